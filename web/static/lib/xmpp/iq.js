// @ts-check
/**
 * IQ handling of XmppClient: our requests matched to their answers with
 * timeouts, and the requests others send us, answered by their handler.
 */
import { x, attr, setAttr, ns, local, child, children } from '../xml.js';
import { NS, StanzaError, TimeoutError, describe } from './protocol.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('../xmpp.js').XmppClient} XmppClient */

/**
 * @param {XmppClient} client
 * @param {El} iq
 * @param {number} timeoutMs
 * @param {() => void} write
 * @returns {Promise<El>}
 */
export function requestNow(client, iq, timeoutMs, write) {
  let id = attr(iq, 'id');
  if (!id) {
    id = client.newId();
    setAttr(iq, 'id', id);
  }
  const key = id;
  return new Promise((resolve, reject) => {
    const timer = client.clock.setTimeout(() => {
      client.pending.delete(key);
      reject(new TimeoutError(describe(iq)));
    }, timeoutMs);
    client.pending.set(key, { resolve, reject, timer, to: attr(iq, 'to') ?? null });
    try {
      write();
    } catch (err) {
      client.clock.clearTimeout(timer);
      client.pending.delete(key);
      reject(err);
    }
  });
}

/** @param {XmppClient} client @param {El} iq */
export function onIq(client, iq) {
  const type = attr(iq, 'type');
  const id = attr(iq, 'id') ?? '';
  if (type === 'result' || type === 'error') {
    const p = client.pending.get(id);
    if (!p || !sameSender(client, attr(iq, 'from') ?? null, p.to)) return; // unsolicited or spoofed
    client.pending.delete(id);
    client.clock.clearTimeout(p.timer);
    if (type === 'result') p.resolve(iq);
    else p.reject(StanzaError.fromStanza(iq));
    return;
  }
  if (type !== 'get' && type !== 'set') return; // RFC 6120 §8.2.3: ignore
  const payload = children(iq)[0];
  const handler = payload && client.iqHandlers.get(`${ns(payload)} ${local(payload)}`);
  if (!handler) {
    replyError(client, iq, 'service-unavailable', 'cancel');
    return;
  }
  Promise.resolve()
    .then(() => handler(iq))
    .then(
      (result) => reply(client, iq, 'result', result ? [result] : []),
      (err) => {
        if (err instanceof StanzaError) replyError(client, iq, err.condition, err.type, err.text, err.extra);
        else {
          console.error('IQ handler failed', err);
          replyError(client, iq, 'internal-server-error', 'cancel');
        }
      },
    );
}

/**
 * sameSender compares an answer's from with the request's to: an answer
 * to a request without to (or to our server or own bare JID) may come
 * without from.
 * @param {XmppClient} client
 * @param {string|null} from
 * @param {string|null} to
 */
export function sameSender(client, from, to) {
  const bare = client.jid ? client.jid.split('/')[0] : '';
  const self = (/** @type {string|null} */ j) => !j || j === client.domain || j === bare;
  if (self(to)) return self(from);
  return (from ?? '').toLowerCase() === (to ?? '').toLowerCase();
}

/**
 * @param {XmppClient} client
 * @param {El} iq
 * @param {'result'|'error'} type
 * @param {El[]} children
 */
export function reply(client, iq, type, children) {
  const attrs = /** @type {Record<string,string>} */ ({ xmlns: NS.client, type, id: attr(iq, 'id') ?? '' });
  const from = attr(iq, 'from');
  if (from) attrs.to = from;
  try {
    client.send(x('iq', attrs, children));
  } catch {
    // offline: the requester will time out or has gone
  }
}

/**
 * @param {XmppClient} client
 * @param {El} iq
 * @param {string} condition
 * @param {string} type
 * @param {string} [text]
 * @param {El} [extra] application-specific condition
 */
export function replyError(client, iq, condition, type, text, extra) {
  const kidsOfError = [x(condition, { xmlns: NS.stanzas })];
  if (text) kidsOfError.push(x('text', { xmlns: NS.stanzas }, [text]));
  if (extra) kidsOfError.push(extra);
  reply(client, iq, 'error', [x('error', { type }, kidsOfError)]);
}

/** CAPS_NODE names parley's web client in its entity capabilities (XEP-0115). */
export const CAPS_NODE = 'https://parley.dev/web';

/** @param {XmppClient} client @returns {string[]} the features discoInfo lists, sorted */
function discoFeatures(client) {
  return [...new Set([NS.discoInfo, NS.ping, NS.caps, ...client.cfg.features])].sort();
}

/**
 * discoInfo answers disco#info on our full JID (docs/SIGNALLING.md §1),
 * also for our capabilities' node (CAPS_NODE#ver).
 * @param {XmppClient} client
 * @param {El} iq
 */
export function discoInfo(client, iq) {
  const q = child(iq, 'query', NS.discoInfo);
  const node = q ? attr(q, 'node') : undefined;
  if (node && !node.startsWith(`${CAPS_NODE}#`)) throw new StanzaError('item-not-found');
  const id = client.cfg.identity;
  return x('query', { xmlns: NS.discoInfo, ...(node ? { node } : {}) }, [
    x('identity', { category: id.category, type: id.type, name: id.name }),
    ...discoFeatures(client).map((v) => x('feature', { var: v })),
  ]);
}

/**
 * capsElement makes the <c/> of our presence (XEP-0115): the SHA-1
 * verification string (§5.1) of what discoInfo answers, with which the
 * focus calls us without asking our disco#info first once it has seen
 * that string verified. Null where the page has no SubtleCrypto (an
 * insecure page, which has no camera either).
 * @param {XmppClient} client
 * @returns {Promise<El|null>}
 */
export async function capsElement(client) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const id = client.cfg.identity;
  const s = [`${id.category}/${id.type}//${id.name}`, ...discoFeatures(client)].map((v) => `${v}<`).join('');
  const sum = new Uint8Array(await subtle.digest('SHA-1', new TextEncoder().encode(s)));
  const ver = btoa(String.fromCharCode(...sum));
  return x('c', { xmlns: NS.caps, hash: 'sha-1', node: CAPS_NODE, ver });
}
