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
import { startCall, prepareCall } from './ui/callview.js';
import { openMedia, stopAll } from './ui/media.js';
import { pickLanguage, storedLanguage, loadLanguage } from './ui/i18n.js';
import { placeIcons } from './ui/icons.js';
import { firstLogin, tokenName } from './ui/session.js';
import { loadSiteConfig } from './lib/siteconfig.js';

/** @typedef {import('./lib/login.js').Login} Login */

const MAX_NAME = 48;

async function main() {
  const room = decodeURIComponent(location.pathname.slice(1));
  // The catalogue and the site's config load side by side (each a fetch
  // the page's <link rel=preload> began).
  const language = loadLanguage(pickLanguage(storedLanguage(), navigator.languages ?? [navigator.language]));
  // config.json is fetched fresh (an operator edits it), except from
  // parley's own server: its page preloads it, and serves it with
  // Cache-Control: no-cache, which keeps it fresh anyway; asked with
  // cache: 'no-cache', Firefox ignores the preload and fetches it again.
  const preloaded = document.querySelector('link[rel="preload"][href="/config.json"]') !== null;
  const siteConfig = room ? loadSiteConfig((url) => fetch(url, { cache: preloaded ? 'default' : 'no-cache' }), location) : null;
  siteConfig?.catch(() => {}); // reported below, once the language is there
  const params = new URLSearchParams(location.search);
  /** @type {Login} how we log in; an account once the pre-join page asked for one */
  let login = firstLogin(location.search);
  const fromToken = login.kind === 'token' ? tokenName(login.token) : '';
  const name = (params.get('name') ?? fromToken).trim().slice(0, MAX_NAME);
  const password = params.get('password') ?? '';
  // Straight into the call (?join=1): the login starts as soon as the
  // config says where, and the camera and microphone open meanwhile
  // (docs/BENCHMARKS.md, "Join time").
  const early = siteConfig && params.get('join') === '1' && name !== '' ?
    siteConfig.then((site) => prepareCall({ room, name, password, login, site })) : null;
  early?.catch(() => {});
  await language;
  placeIcons(document);
  if (!room) {
    showHome();
    return;
  }
  document.title = `${room} · parley`;
  const opening = early ? openMedia() : null;
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
   *   prepared?: import('./ui/callview.js').PreparedCall}} choice
   */
  const join = (choice) => {
    if (choice.login) login = choice.login;
    startCall({
      room, ...choice, login, site,
      onRefused: (why, media, need) => prejoinAgain(why, choice.name, choice.password, media, need),
      onRetry: (next) => {
        login = next;
        join({ ...choice, login: next, prepared: undefined });
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
  if (early && opening) {
    const prepared = await early;
    join({ name, password, media: await opening, prepared });
    return;
  }
  showPrejoin({ room, name, password, problem: '', maxName: MAX_NAME, account: null, onJoin: join });
}

main();
