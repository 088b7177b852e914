// @ts-check
/**
 * Stream negotiation of XmppClient (RFC 6120/7395): the stream header and
 * features, SASL and resource binding, read element by element.
 */
import * as sasl from '../sasl.js';
import { x, attr, ns, local, child, children, textOf } from '../xml.js';
import { NS, XmppError, StreamError, TimeoutError, AuthError, StanzaError, streamErrorCondition } from './protocol.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('../xmpp.js').XmppClient} XmppClient */

/** @param {XmppClient} client @param {WebSocket} ws */
export function waitOpen(client, ws) {
  return new Promise((resolve, reject) => {
    if (ws.readyState === ws.OPEN) return resolve(undefined);
    const t = client.clock.setTimeout(() => reject(new XmppError('could not reach the server in time')), client.cfg.timeoutMs);
    ws.addEventListener('open', () => {
      client.clock.clearTimeout(t);
      resolve(undefined);
    });
    ws.addEventListener('close', () => {
      client.clock.clearTimeout(t);
      reject(new XmppError('could not reach the server'));
    });
  });
}

/**
 * next waits for the next element during negotiation.
 * @param {XmppClient} client
 * @param {string} what for the timeout message
 * @returns {Promise<El>}
 */
export function next(client, what) {
  const queued = client.early.shift();
  if (queued) {
    if (local(queued) === 'error' && ns(queued) === NS.stream) {
      return Promise.reject(new StreamError(streamErrorCondition(queued)));
    }
    return Promise.resolve(queued);
  }
  return new Promise((resolve, reject) => {
    const ws = client.ws;
    const t = client.clock.setTimeout(() => {
      client.negotiator = null;
      reject(new TimeoutError(what));
    }, client.cfg.timeoutMs);
    const onClose = () => {
      client.clock.clearTimeout(t);
      reject(new XmppError(`the server closed the connection while waiting for ${what}`));
    };
    ws?.addEventListener('close', onClose);
    client.negotiator = (el) => {
      client.negotiator = null;
      client.clock.clearTimeout(t);
      ws?.removeEventListener('close', onClose);
      if (local(el) === 'error' && ns(el) === NS.stream) {
        reject(new StreamError(streamErrorCondition(el)));
        return;
      }
      resolve(el);
    };
  });
}

/** openStream sends <open/> and returns the <features/> that follow. @param {XmppClient} client */
export async function openStream(client) {
  const waitOpen = next(client, 'the stream header');
  client.sendRaw(x('open', { xmlns: NS.framing, to: client.domain, version: '1.0' }));
  const open = await waitOpen;
  if (local(open) !== 'open' || ns(open) !== NS.framing) throw new XmppError(`expected <open/>, got <${local(open)}/>`);
  client.serverDomain = attr(open, 'from') ?? '';
  const features = await next(client, 'stream features');
  if (local(features) !== 'features' || ns(features) !== NS.stream) {
    throw new XmppError(`expected <stream:features/>, got <${local(features)}/>`);
  }
  return features;
}

/** @param {XmppClient} client @param {El} features */
export async function authenticate(client, features) {
  const mechs = child(features, 'mechanisms', NS.sasl);
  const offered = mechs ? children(mechs, 'mechanism', NS.sasl).map(textOf) : [];
  const name = sasl.choose(offered, client.cfg.credentials, client.cfg.mechanisms);
  if (!name) throw new AuthError(client.cfg.credentials ? 'no common login mechanism' : 'guests may not log in here');
  const mech = sasl.create(name, client.cfg.credentials);
  const initial = await mech.initial();
  const auth = x('auth', { xmlns: NS.sasl, mechanism: name }, initial === null ? [] : [initial.length ? sasl.toBase64(initial) : '=']);
  let reply = next(client, 'the login answer');
  client.sendRaw(auth);
  for (;;) {
    const el = await reply;
    if (ns(el) !== NS.sasl) throw new XmppError(`unexpected <${local(el)}/> during login`);
    const data = textOf(el).trim();
    const bytes = data === '' || data === '=' ? new Uint8Array(0) : sasl.fromBase64(data);
    switch (local(el)) {
      case 'challenge': {
        const response = await mech.step(bytes);
        reply = next(client, 'the login answer');
        client.sendRaw(x('response', { xmlns: NS.sasl }, [response.length ? sasl.toBase64(response) : '=']));
        continue;
      }
      case 'success':
        await mech.finish(bytes);
        return;
      case 'failure': {
        const cond = children(el).find((c) => local(c) !== 'text');
        const text = children(el).find((c) => local(c) === 'text');
        throw new AuthError(cond ? local(cond) : 'not-authorized', text ? textOf(text) : '');
      }
      default:
        throw new XmppError(`unexpected <${local(el)}/> during login`);
    }
  }
}

/** @param {XmppClient} client @param {El} features @returns {Promise<string>} */
export async function bind(client, features) {
  if (!child(features, 'bind', NS.bind)) throw new XmppError('the server offers no resource binding');
  const id = client.newId();
  const res = client.cfg.resource ? [x('resource', {}, [client.cfg.resource])] : [];
  const answer = next(client, 'the bind result');
  client.sendRaw(x('iq', { xmlns: NS.client, type: 'set', id }, [x('bind', { xmlns: NS.bind }, res)]));
  const iq = await answer;
  if (local(iq) !== 'iq' || attr(iq, 'id') !== id) throw new XmppError('unexpected answer to bind');
  if (attr(iq, 'type') === 'error') throw StanzaError.fromStanza(iq);
  const jidEl = child(child(iq, 'bind', NS.bind) ?? iq, 'jid', NS.bind);
  const jid = jidEl ? textOf(jidEl).trim() : '';
  if (!jid.includes('/')) throw new XmppError('bind returned no full JID');
  return jid;
}
