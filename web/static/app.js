// @ts-check
/**
 * parley's web client: picks the language, then the screen from the address.
 *
 *   /                       home: start or join a meeting
 *   /ROOM                   pre-join screen (name, camera, microphone), then the call
 *   /ROOM?name=N&join=1     straight into the call as N
 *   ...&password=P          the room's password
 *   ...&jwt=TOKEN           log in with a token (also ?token=); never falls back to a guest
 *
 * ROOM is already in normal form: the server redirects other spellings.
 */
import { showHome } from './ui/home.js';
import { showPrejoin } from './ui/prejoin.js';
import { startCall } from './ui/callview.js';
import { openMedia, stopAll } from './ui/media.js';
import { pickLanguage, storedLanguage, loadLanguage } from './ui/i18n.js';
import { placeIcons } from './ui/icons.js';
import { boot, MAX_NAME } from './ui/early.js';

/** @typedef {import('./lib/login.js').Login} Login */

async function main() {
  // ui/early.js has read the address and the site config and, going
  // straight into the call, begun the login (docs/BENCHMARKS.md, "Join time").
  const { room, params, name, password, siteConfig, connection } = boot;
  /** @type {Login} how we log in; an account once the pre-join page asked for one */
  let login = boot.login;
  await loadLanguage(pickLanguage(storedLanguage(), navigator.languages ?? [navigator.language]));
  placeIcons(document);
  if (!room) {
    showHome();
    return;
  }
  document.title = `${room} · parley`;
  // The camera and microphone open while the login goes on.
  const opening = connection ? openMedia() : null;
  /** where the XMPP server is: parley's own, or what config.json says */
  let site;
  try {
    site = await /** @type {Promise<import('./lib/siteconfig.js').SiteConfig>} */ (siteConfig);
  } catch (err) {
    opening?.then((m) => stopAll(m.stream));
    // A config that is there but unusable: say so rather than call the wrong server.
    const p = document.createElement('p');
    p.className = 'notice';
    p.id = 'config-error';
    p.setAttribute('role', 'alert');
    p.textContent = err instanceof Error ? err.message : String(err);
    document.body.replaceChildren(p);
    return;
  }
  /**
   * join starts the call with a choice made on the pre-join page (or read
   * from the address); a refusal brings the pre-join page back.
   * @param {{name: string, password: string, media: import('./ui/media.js').LocalMedia, speaker?: string, login?: Login,
   *   early?: import('./ui/early.js').EarlyConnection}} choice
   */
  const join = (choice) => {
    if (choice.login) login = choice.login;
    startCall({
      room, ...choice, login, site,
      onRefused: (why, media, need) => prejoinAgain(why, choice.name, choice.password, media, need),
      onRetry: (next) => {
        login = next;
        join({ ...choice, login: next, early: undefined });
      },
    });
  };
  /**
   * prejoinAgain comes back to the pre-join screen when the room or the
   * server refused us (a password; a login), keeping what was typed.
   * @param {string} why
   * @param {string} typedName
   * @param {string} pw
   * @param {import('./ui/media.js').LocalMedia} _media
   * @param {'password'|'account'} need
   */
  const prejoinAgain = (why, typedName, pw, _media, need) => showPrejoin({
    room, name: typedName, password: pw, problem: why, maxName: MAX_NAME,
    needPassword: need === 'password' || Boolean(pw),
    account: need === 'account' || login.kind === 'account' ? { username: login.kind === 'account' ? login.username : '' } : null,
    onJoin: join,
  });
  if (connection && opening) {
    const early = await connection;
    join({ name, password, media: await opening, early });
    return;
  }
  showPrejoin({ room, name, password, problem: '', maxName: MAX_NAME, account: null, onJoin: join });
}

main();
