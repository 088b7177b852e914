// @ts-check
/**
 * parley's web client: picks the language, then the screen from the address.
 *
 *   /                       home: start or join a meeting
 *   /ROOM                   pre-join screen (name, camera, microphone), then the call
 *   /ROOM?name=N&join=1     straight into the call as N
 *   ...&password=P          the room's password
 *
 * ROOM is already in normal form: the server redirects other spellings.
 */
import { showHome } from './ui/home.js';
import { showPrejoin } from './ui/prejoin.js';
import { startCall } from './ui/callview.js';
import { openMedia } from './ui/media.js';
import { pickLanguage, storedLanguage, loadLanguage } from './ui/i18n.js';
import { placeIcons } from './ui/icons.js';

const MAX_NAME = 48;

async function main() {
  await loadLanguage(pickLanguage(storedLanguage(), navigator.languages ?? [navigator.language]));
  placeIcons(document);
  const room = decodeURIComponent(location.pathname.slice(1));
  if (!room) {
    showHome();
    return;
  }
  document.title = `${room} · parley`;
  const params = new URLSearchParams(location.search);
  const name = (params.get('name') ?? '').trim().slice(0, MAX_NAME);
  const password = params.get('password') ?? '';
  /** @param {string} [problem] a reason to show on the pre-join screen */
  const prejoin = (problem = '', pw = password) => showPrejoin({
    room, name, password: pw, problem, maxName: MAX_NAME,
    onJoin: (choice) => startCall({ room, ...choice, onRefused: (why, media) => prejoinAgain(why, choice.name, choice.password, media) }),
  });
  /**
   * prejoinAgain comes back to the pre-join screen when the room refused
   * us (a password), keeping the name typed.
   * @param {string} why
   * @param {string} typedName
   * @param {string} pw
   * @param {import('./ui/media.js').LocalMedia} _media
   */
  const prejoinAgain = (why, typedName, pw, _media) => showPrejoin({
    room, name: typedName, password: pw, problem: why, needPassword: true, maxName: MAX_NAME,
    onJoin: (choice) => startCall({ room, ...choice, onRefused: (w, m) => prejoinAgain(w, choice.name, choice.password, m) }),
  });
  if (params.get('join') === '1' && name) {
    const media = await openMedia();
    startCall({ room, name, password, media, onRefused: (why, m) => prejoinAgain(why, name, password, m) });
    return;
  }
  prejoin();
}

main();
