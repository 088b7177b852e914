#!/usr/bin/env bash
# Regenerates the SIP gateway's spoken prompts (internal/sip/prompts/*.ul:
# 8 kHz mono G.711 mu-law, no header) with Debian's espeak-ng and ffmpeg.
# They are committed: neither program is needed to build or test parley.
set -euo pipefail
need=()
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get install -y -q "${need[@]}"
fi
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
