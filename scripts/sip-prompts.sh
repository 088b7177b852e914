#!/usr/bin/env bash
# Regenerates the SIP gateway's spoken prompts (internal/sip/prompts/*.ul:
# 8 kHz mono G.711 mu-law, no header) with Debian's espeak-ng and ffmpeg.
# They are committed: neither program is needed to build or test parley.
set -euo pipefail
cd "$(dirname "$0")/../internal/sip/prompts"
say() { # LANG NAME TEXT
  espeak-ng -v "$1" -s 150 -w "/tmp/parley-prompt.wav" "$3"
  ffmpeg -loglevel error -y -i /tmp/parley-prompt.wav -ar 8000 -ac 1 -f mulaw "$1-$2.ul"
}
say en pin "Welcome. Please enter the meeting PIN, then press the hash key."
say en wrong "That PIN is not right. Please try again."
say en alone "You are the only one here."
say fr pin "Bienvenue. Tapez le code de la réunion, puis la touche dièse."
say fr wrong "Ce code n'est pas le bon. Veuillez réessayer."
say fr alone "Vous êtes seul dans la réunion."
say es pin "Bienvenido. Marque el código de la reunión y después la tecla almohadilla."
say es wrong "Ese código no es correcto. Inténtelo de nuevo."
say es alone "Usted es la única persona aquí."
rm -f /tmp/parley-prompt.wav
