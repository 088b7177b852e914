// @ts-check
/**
 * The page's first work: it reads the address and the site's config and,
 * for a page going straight into a call (?join=1 with a name), opens the
 * XMPP connection and logs in at once, before the language and the camera
 * and microphone are there (app.js then waits for those). The room is
 * joined later, by the call, once the tracks are open. It touches the DOM
 * only to read the config parley's own server puts in the page.
 *
 * Run on its own ahead of the other modules (an async script), it opened
 * the connection earlier but gained nothing: the browser handles the
 * login's answers on the page's one thread, busy loading the client, and
 * Firefox opened that early WebSocket 250 ms late (docs/BENCHMARKS.md,
 * "Join time").
 */
import { XmppClient } from '../lib/xmpp.js';
import { loadSiteConfig, siteConfig as configFrom } from '../lib/siteconfig.js';
import { clientConfig } from '../lib/login.js';
import { DebugRecorder } from '../lib/debuginfo.js';
import { firstLogin, tokenName } from './session.js';

/** @typedef {import('../lib/login.js').Login} Login */
/** @typedef {import('../lib/siteconfig.js').SiteConfig} SiteConfig */

/** The longest display name, in characters. */
export const MAX_NAME = 48;

/**
 * @typedef {object} EarlyConnection a login begun before the call was made
 * @property {XmppClient} client
 * @property {Promise<string>} login its connect()
 * @property {DebugRecorder} recorder its signalling trace, from the first stanza
 */

/**
 * @typedef {object} Boot what the page read and started at once
 * @property {string} room the room from the address ('' on the home page)
 * @property {URLSearchParams} params the address's query
 * @property {Login} login how to log in, as the address (or a kept guest token) says
 * @property {string} name the display name the address gives ('' for none)
 * @property {string} password the room's password the address gives
 * @property {Promise<SiteConfig>|null} siteConfig where the XMPP server is; null on the home page
 * @property {Promise<EarlyConnection>|null} connection the login, for a page going straight
 *   into the call; null otherwise. It rejects only when siteConfig does.
 */

/**
 * traceOf records a client's traffic for the debug file (and the console
 * with ?debug=1).
 * @param {XmppClient} client
 * @returns {DebugRecorder}
 */
export function traceOf(client) {
  const recorder = new DebugRecorder();
  const debug = new URLSearchParams(location.search).get('debug') === '1';
  client.on('traffic', (dir, xml) => {
    recorder.addTrace(dir, xml);
    if (debug) console.debug(`xmpp ${dir}: ${xml}`);
  });
  return recorder;
}

/** @returns {Boot} */
function begin() {
  const room = decodeURIComponent(location.pathname.slice(1));
  const params = new URLSearchParams(location.search);
  const login = firstLogin(location.search);
  const fromToken = login.kind === 'token' ? tokenName(login.token) : '';
  const name = (params.get('name') ?? fromToken).trim().slice(0, MAX_NAME);
  const password = params.get('password') ?? '';
  // parley's own server puts its config in the page: fetched, it came
  // after the browser had compiled and run every module, hundreds of ms
  // into a fresh page. A static server's page (another XMPP server) has
  // its config.json, fetched fresh (an operator edits it).
  const inline = document.querySelector('meta[name="parley-config"]')?.getAttribute('content') ?? null;
  const siteConfig = !room ? null : inline !== null ?
    Promise.resolve(inline).then((text) => configFrom(JSON.parse(text), location)) :
    loadSiteConfig((url) => fetch(url, { cache: 'no-cache' }), location);
  siteConfig?.catch(() => {}); // app.js reports it
  const connection = siteConfig && params.get('join') === '1' && name !== '' ? siteConfig.then((site) => {
    // A guest logs in to the site's guest host when it has one, as
    // callview.js does (Prosody's anonymous VirtualHost).
    const domain = login.kind === 'guest' ? site.guestDomain ?? site.domain : site.domain;
    const c = clientConfig({ url: site.url, domain }, login);
    const client = new XmppClient({ url: c.url, domain, learnDomain: site.learnDomain ?? true, credentials: c.credentials ?? null, mechanisms: c.mechanisms });
    const recorder = traceOf(client);
    const started = client.connect();
    started.catch(() => {}); // the call reports it when it starts
    return { client, login: started, recorder };
  }) : null;
  connection?.catch(() => {});
  return { room, params, login, name, password, siteConfig, connection };
}

/** What the page read and started when it loaded; immutable. */
export const boot = begin();
