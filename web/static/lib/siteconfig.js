// @ts-check
/**
 * Where the web client finds its XMPP server (docs/EXTERNAL-XMPP.md): by
 * default parley's own, on the page's origin (`/xmpp-websocket`, the page's
 * host name as the domain, learned from the server when it differs). An
 * operator who serves the pages for another server (Prosody, ejabberd)
 * places a `config.json` at the site's root, beside index.html:
 *
 *   {"websocket": "wss://xmpp.example.org/xmpp-websocket",
 *    "domain": "example.org",
 *    "guestDomain": "guest.example.org",
 *    "muc": "conference.example.org",
 *    "focus": "focus.example.org"}
 *
 * Every field is optional: `websocket` defaults to the page's origin (a
 * relative URL such as "/xmpp-websocket" is taken against the page),
 * `domain` to the page's host name, `muc` to `conference.<domain>` and
 * `focus` to `focus.<domain>`. `guestDomain` is where guests log in (SASL
 * ANONYMOUS) when the server keeps them on a host of their own, as
 * Prosody does (Jitsi's `anonymousdomain`); by default guests log in to
 * `domain`. The rooms and the focus stay those of `domain` for them.
 *
 * No DOM access: the caller passes the page's location and fetch.
 */

/** CONFIG_PATH is where the page looks for its config. */
export const CONFIG_PATH = '/config.json';

/**
 * @typedef {object} SiteConfig
 * @property {string} url the XMPP server's WebSocket URL
 * @property {string} domain the XMPP domain (or the page's host name, a guess)
 * @property {boolean} learnDomain whether the domain is a guess the server may correct
 * @property {string|null} muc the MUC service's domain; null: `conference.<domain>` as learned
 * @property {string|null} focus the focus's JID; null: `focus.<domain>` as learned
 * @property {string|null} guestDomain the domain guests log in to; null: `domain`
 */

/**
 * @typedef {{protocol: string, host: string, hostname: string, href: string}} PageLocation
 */

/** SiteConfigError is a config.json the page cannot use; its message says why. */
export class SiteConfigError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(`config.json: ${message}`);
    this.name = 'SiteConfigError';
  }
}

const FIELDS = ['websocket', 'domain', 'guestDomain', 'muc', 'focus'];
const DOMAIN = /^[^\s@/]+$/;

/**
 * text returns raw[name] when it is a non-empty string, null when absent.
 * @param {Record<string, unknown>} raw
 * @param {string} name
 */
function text(raw, name) {
  const v = raw[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v.trim() === '') throw new SiteConfigError(`"${name}" must be a non-empty string`);
  return v.trim();
}

/**
 * jidLike checks a domain or a bare JID's form.
 * @param {string|null} v
 * @param {string} name
 * @param {boolean} localpart whether a localpart (x@) is allowed
 */
function jidLike(v, name, localpart) {
  if (v === null) return null;
  const parts = v.split('@');
  if (parts.length > (localpart ? 2 : 1) || !parts.every((p) => DOMAIN.test(p))) {
    throw new SiteConfigError(`"${name}" is not ${localpart ? 'a JID' : 'a domain'}: ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * siteConfig turns a config.json (already parsed; null when there is none)
 * into where the client connects, for a page at `page`.
 * @param {unknown} raw
 * @param {PageLocation} page
 * @returns {SiteConfig}
 */
export function siteConfig(raw, page) {
  const scheme = page.protocol === 'https:' ? 'wss:' : 'ws:';
  const own = { url: `${scheme}//${page.host}/xmpp-websocket`, domain: page.hostname, learnDomain: true, muc: null, focus: null, guestDomain: null };
  if (raw === null || raw === undefined) return own;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new SiteConfigError('must be a JSON object');
  const obj = /** @type {Record<string, unknown>} */ (raw);
  const unknown = Object.keys(obj).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) throw new SiteConfigError(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')} (known: ${FIELDS.join(', ')})`);
  const ws = text(obj, 'websocket');
  let url = own.url;
  if (ws !== null) {
    let u;
    try {
      u = new URL(ws, page.href);
    } catch {
      throw new SiteConfigError(`"websocket" is not a URL: ${JSON.stringify(ws)}`);
    }
    // A relative URL comes out http(s): the same place, as a WebSocket.
    if (u.protocol === 'http:' || u.protocol === 'https:') u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new SiteConfigError(`"websocket" must be ws: or wss:, not ${u.protocol}`);
    url = u.toString();
  }
  const domain = jidLike(text(obj, 'domain'), 'domain', false);
  const guestDomain = jidLike(text(obj, 'guestDomain'), 'guestDomain', false);
  if (guestDomain !== null && domain === null) throw new SiteConfigError('"guestDomain" needs "domain" (where the rooms and the focus are)');
  const muc = jidLike(text(obj, 'muc'), 'muc', false);
  const focus = jidLike(text(obj, 'focus'), 'focus', true);
  return {
    url,
    domain: domain ?? own.domain,
    learnDomain: domain === null,
    // A guest's own domain is the guest host: the defaults are domain's.
    muc: muc ?? (guestDomain !== null ? `conference.${domain}` : null),
    focus: focus ?? (guestDomain !== null ? `focus.${domain}` : null),
    guestDomain,
  };
}

/**
 * loadSiteConfig fetches CONFIG_PATH and reads it. No config (404, or a
 * server answering with its HTML page for any path) means parley's own
 * server; a config that is there but unusable, or a server error, is a
 * SiteConfigError rather than a silent fallback to the wrong server.
 * @param {(url: string) => Promise<{status: number, ok: boolean, headers: {get(name: string): string|null}, text(): Promise<string>}>} fetchFn
 * @param {PageLocation} page
 * @returns {Promise<SiteConfig>}
 */
export async function loadSiteConfig(fetchFn, page) {
  let res;
  try {
    res = await fetchFn(CONFIG_PATH);
  } catch (err) {
    throw new SiteConfigError(`could not be fetched (${err instanceof Error ? err.message : err})`);
  }
  if (res.status === 404) return siteConfig(null, page);
  if (!res.ok) throw new SiteConfigError(`the web server answered ${res.status}`);
  if (/html/i.test(res.headers.get('content-type') ?? '')) return siteConfig(null, page);
  let raw;
  try {
    raw = JSON.parse(await res.text());
  } catch (err) {
    throw new SiteConfigError(`not JSON (${err instanceof Error ? err.message : err})`);
  }
  return siteConfig(raw, page);
}
