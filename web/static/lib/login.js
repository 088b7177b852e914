// @ts-check
/**
 * How the web client logs in (docs/SIGNALLING.md §8): as a guest (SASL
 * ANONYMOUS), with an account (SCRAM, sasl.js), or with a token (JWT) that
 * rides in the WebSocket URL with ANONYMOUS, as Jitsi's links do
 * (`/<room>?jwt=TOKEN`). And a guest's resumption token, which brings the
 * same guest identity back after a reconnection.
 *
 * No DOM access: callers pass location.search and keep the resumption
 * token where they like (sessionStorage, say).
 */
import { NS as XNS, AuthError } from './xmpp.js';
import { x, attr, child } from './xml.js';

/** @typedef {import('./xmpp.js').XmppClient} XmppClient */
/** @typedef {import('./xmpp.js').Config} ClientConfig */

/** NS_RESUME is the namespace of a guest's resumption request. */
export const NS_RESUME = 'urn:parley:resume:0';

/**
 * @typedef {{kind: 'guest', resume?: string}
 *   | {kind: 'account', username: string, password: string}
 *   | {kind: 'token', token: string}} Login
 * guest: resume is a resumption token from an earlier session, if kept
 */

/**
 * withParam returns url with one query parameter set.
 * @param {string} url
 * @param {string} name
 * @param {string} value
 */
function withParam(url, name, value) {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.toString();
}

/**
 * tokenURL is the WebSocket URL carrying a token: ws(s)://HOST/xmpp-websocket?token=JWT.
 * @param {string} wsURL
 * @param {string} token
 */
export function tokenURL(wsURL, token) {
  return withParam(wsURL, 'token', token);
}

/**
 * pageToken reads the token of a page URL's query, as Jitsi's links carry
 * it (?jwt=), or ?token=; '' if none.
 * @param {string} search location.search, e.g. "?jwt=eyJ..."
 */
export function pageToken(search) {
  const q = new URLSearchParams(search);
  return q.get('jwt') || q.get('token') || '';
}

/**
 * clientConfig completes an XmppClient config for a login: the URL and
 * SASL mechanisms it needs. A token or a resumption token never falls back
 * to a guest login: the server refuses a bad one (AuthError
 * 'not-authorized'), and the caller decides what next.
 * @param {ClientConfig} base url and domain at least
 * @param {Login} login
 * @returns {ClientConfig}
 */
export function clientConfig(base, login) {
  switch (login.kind) {
    case 'account':
      return { ...base, credentials: { username: login.username, password: login.password }, mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-1'] };
    case 'token':
      return { ...base, url: tokenURL(base.url, login.token), credentials: null, mechanisms: ['ANONYMOUS'] };
    default:
      return {
        ...base,
        url: login.resume ? withParam(base.url, 'resume', login.resume) : base.url,
        credentials: null,
        mechanisms: ['ANONYMOUS'],
      };
  }
}

/**
 * needsLogin says whether a failed connection means the server takes no
 * guests (started with --no-anonymous): the page should ask for an account
 * or a token.
 * @param {unknown} err what connect() rejected with, or the 'failed' event's error
 */
export function needsLogin(err) {
  return err instanceof AuthError && err.condition === 'guests may not log in here';
}

/**
 * tokenRefused says whether a login failed because the server refused the
 * token or the resumption token; the text says why ("token refused
 * (expired): …").
 * @param {unknown} err
 * @returns {string|null} the server's explanation, or null if err is something else
 */
export function tokenRefused(err) {
  if (!(err instanceof AuthError) || err.condition !== 'not-authorized') return null;
  return err.text || 'not authorized';
}

/**
 * @typedef {object} Resumption
 * @property {string} token pass it as Login {kind: 'guest', resume: token} next time
 * @property {Date|null} expires
 */

/**
 * requestResumption asks the server for this guest session's resumption
 * token. Only guests get one (accounts and tokens log in again as
 * themselves): others get a StanzaError not-allowed.
 * @param {XmppClient} client an online client
 * @returns {Promise<Resumption>}
 */
export async function requestResumption(client) {
  const res = await client.request(x('iq', { xmlns: XNS.client, type: 'get' }, [x('resume', { xmlns: NS_RESUME })]));
  const el = child(res, 'resume', NS_RESUME);
  const token = el ? attr(el, 'token') ?? '' : '';
  if (!token) throw new Error('the server sent no resumption token');
  const exp = new Date(attr(/** @type {any} */ (el), 'expires') ?? '');
  return { token, expires: isNaN(exp.getTime()) ? null : exp };
}

