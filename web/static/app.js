// @ts-check
/**
 * parley's web client: picks the screen from the address.
 *
 *   /                       home: pick a room
 *   /ROOM                   pre-join screen (name, camera, microphone), then the call
 *   /ROOM?name=N&join=1     straight into the call as N
 *
 * ROOM is already in normal form: the server redirects other spellings.
 */
import { showHome } from './ui/home.js';
import { showPrejoin } from './ui/prejoin.js';
import { startCall } from './ui/callview.js';
import { openMedia } from './ui/media.js';

const MAX_NAME = 48;

function main() {
  const room = decodeURIComponent(location.pathname.slice(1));
  if (!room) {
    showHome();
    return;
  }
  document.title = `${room} · parley`;
  const params = new URLSearchParams(location.search);
  const name = (params.get('name') ?? '').trim().slice(0, MAX_NAME);
  if (params.get('join') === '1' && name) {
    openMedia().then((media) => startCall({ room, name, media }));
    return;
  }
  showPrejoin({ room, name, maxName: MAX_NAME, onJoin: (choice) => startCall({ room, ...choice }) });
}

main();
