// @ts-check
/**
 * Liveness of XmppClient: a ping after a quiet while to notice a dead link,
 * and reconnection with exponential backoff.
 */
import { x } from '../xml.js';
import { NS, StanzaError, TimeoutError, AuthError } from './protocol.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('../xmpp.js').XmppClient} XmppClient */

/** schedulePing pings the server when the stream has been quiet, to notice a dead link. @param {XmppClient} client */
export function schedulePing(client) {
  if (!client.cfg.pingIntervalMs) return;
  const seen = client.lastReceived;
  client.clock.clearTimeout(client.timer);
  client.timer = client.clock.setTimeout(() => {
    if (client.state !== 'online') return;
    if (client.lastReceived !== seen) {
      schedulePing(client);
      return;
    }
    const ws = client.ws;
    client.request(x('iq', { xmlns: NS.client, type: 'get', to: client.domain }, [x('ping', { xmlns: NS.ping })]), client.cfg.timeoutMs)
      .then(() => schedulePing(client))
      .catch((err) => {
        if (err instanceof TimeoutError && ws && ws === client.ws) client.fail(ws, 'the server stopped answering');
        else if (err instanceof StanzaError) schedulePing(client);
      });
  }, client.cfg.pingIntervalMs);
}

/** @param {XmppClient} client */
export function scheduleReconnect(client) {
  client.attempt++;
  const base = Math.min(client.cfg.backoffMaxMs, client.cfg.backoffInitialMs * 2 ** (client.attempt - 1));
  const delayMs = Math.round(base * (0.75 + 0.5 * client.clock.random()));
  client.state = 'reconnecting';
  client.emit('reconnecting', { attempt: client.attempt, delayMs });
  client.timer = client.clock.setTimeout(() => {
    if (client.state !== 'reconnecting') return;
    client.state = 'connecting';
    client.connectOnce().catch((err) => {
      if (client.state === 'closed') return;
      client.state = 'offline';
      if (err instanceof AuthError) {
        client.emit('failed', err);
        return;
      }
      scheduleReconnect(client);
    });
  }, delayMs);
}
