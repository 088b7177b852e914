// @ts-check
/**
 * How the page logs in (docs/SIGNALLING.md §8, §11): with the token of a
 * link (?jwt= or ?token=), with an account the pre-join page asked for when
 * the server takes no guests, or as a guest that keeps its resumption token
 * in sessionStorage, so that a reconnection or a reload in the same tab
 * comes back as the same guest (same JID, same role).
 */
import { pageToken, clientConfig, requestResumption } from '../lib/login.js';

/** @typedef {import('../lib/login.js').Login} Login */
/** @typedef {import('../lib/xmpp.js').XmppClient} XmppClient */

const RESUME_KEY = 'parley.resume';

/**
 * storage is this tab's sessionStorage, or null where the browser refuses
 * it (private modes, sandboxed frames).
 * @returns {Storage|null}
 */
function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/**
 * firstLogin is how the page logs in before anyone typed anything: the
 * link's token, else a guest, resuming when this tab kept a token.
 * @param {string} search location.search
 * @returns {Login}
 */
export function firstLogin(search) {
  const token = pageToken(search);
  if (token) return { kind: 'token', token };
  const resume = storage()?.getItem(RESUME_KEY) ?? '';
  return resume ? { kind: 'guest', resume } : { kind: 'guest' };
}

/**
 * tokenName reads the name a token carries (context.user.name), to fill
 * the pre-join page; '' when there is none. The server checks the token;
 * this only saves typing.
 * @param {string} token a JWT
 */
export function tokenName(token) {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0))));
    const name = claims?.context?.user?.name ?? claims?.name ?? '';
    return typeof name === 'string' ? name : '';
  } catch {
    return '';
  }
}

/** forgetResumption drops a resumption token the server refused. */
export function forgetResumption() {
  storage()?.removeItem(RESUME_KEY);
}

/**
 * keepResumption asks the server for this guest's resumption token, keeps
 * it for this tab, and points the client's reconnections at it. Failing
 * costs nothing but a new identity after a drop, so it only warns.
 * @param {XmppClient} client an online guest client
 * @param {import('../lib/xmpp.js').Config} base the client's config without a login
 */
export async function keepResumption(client, base) {
  try {
    const { token } = await requestResumption(client);
    storage()?.setItem(RESUME_KEY, token);
    client.useURL(clientConfig(base, { kind: 'guest', resume: token }).url);
  } catch (err) {
    console.warn('parley: no resumption token', err);
  }
}
