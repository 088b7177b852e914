// @ts-check
/**
 * XMPP client over WebSocket (RFC 7395): stream open and features, SASL
 * (SCRAM-SHA-256/1, PLAIN, ANONYMOUS), stream restart, resource binding,
 * IQ requests matched to their responses with timeouts, answers to
 * disco#info and ping, and reconnection with exponential backoff.
 *
 * No DOM access: it runs in browsers and in Node (pass a WebSocket class).
 */
import { Emitter } from './emitter.js';
import * as sasl from './sasl.js';
import { x, parseXml, serialize, attr, setAttr, ns, local, kid, kids, textOf } from './xmlutil.js';

/** @typedef {import('./xmlutil.js').El} El */

export const NS = Object.freeze({
  client: 'jabber:client',
  framing: 'urn:ietf:params:xml:ns:xmpp-framing',
  stream: 'http://etherx.jabber.org/streams',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  streams: 'urn:ietf:params:xml:ns:xmpp-streams',
  discoInfo: 'http://jabber.org/protocol/disco#info',
  ping: 'urn:xmpp:ping',
});

/** The features docs/SIGNALLING.md requires of a media participant. */
export const JINGLE_FEATURES = Object.freeze([
  'urn:xmpp:jingle:1',
  'urn:xmpp:jingle:apps:rtp:1',
  'urn:xmpp:jingle:apps:rtp:audio',
  'urn:xmpp:jingle:apps:rtp:video',
  'urn:xmpp:jingle:transports:ice-udp:1',
  'urn:xmpp:jingle:apps:dtls:0',
]);

/** XmppError is the base of this module's errors. */
export class XmppError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'XmppError';
  }
}

/** StanzaError is an IQ answered with type='error' (RFC 6120 §8.3). */
export class StanzaError extends XmppError {
  /**
   * @param {string} condition defined condition, e.g. 'item-not-found'
   * @param {string} [type] error type: cancel, modify, auth, wait
   * @param {string} [text]
   * @param {El} [stanza] the error stanza
   */
  constructor(condition, type = 'cancel', text = '', stanza) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.condition = condition;
    this.type = type;
    this.text = text;
    this.stanza = stanza;
    /** @type {El|undefined} an application-specific condition to send along (RFC 6120 §8.3.4) */
    this.extra = undefined;
  }

  /** fromStanza reads the <error/> of an error stanza. @param {El} st */
  static fromStanza(st) {
    const err = kid(st, 'error');
    if (!err) return new StanzaError('undefined-condition', 'cancel', '', st);
    const cond = kids(err).find((c) => ns(c) === NS.stanzas && local(c) !== 'text');
    const text = kids(err, 'text', NS.stanzas)[0];
    return new StanzaError(cond ? local(cond) : 'undefined-condition', attr(err, 'type') ?? 'cancel', text ? textOf(text) : '', st);
  }
}

/** StreamError is a stream error the server sent (RFC 6120 §4.9). */
export class StreamError extends XmppError {
  /** @param {string} condition */
  constructor(condition) {
    super(`stream error: ${condition}`);
    this.name = 'StreamError';
    this.condition = condition;
  }
}

/** TimeoutError is an IQ that got no answer in time. */
export class TimeoutError extends XmppError {
  constructor(/** @type {string} */ what) {
    super(`no answer to ${what} in time`);
    this.name = 'TimeoutError';
  }
}

/** DisconnectedError is a request cut short because the stream ended. */
export class DisconnectedError extends XmppError {
  constructor(/** @type {string} */ reason) {
    super(`disconnected: ${reason}`);
    this.name = 'DisconnectedError';
    this.reason = reason;
  }
}

/** AuthError is a login the server refused; retrying will not help. */
export class AuthError extends XmppError {
  /** @param {string} condition @param {string} [text] the server's explanation, if any */
  constructor(condition, text = '') {
    super(text ? `login refused: ${condition} (${text})` : `login refused: ${condition}`);
    this.name = 'AuthError';
    this.condition = condition;
    this.text = text;
  }
}

/**
 * @typedef {object} Clock the time functions the client uses; tests replace them
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(id: any) => void} clearTimeout
 * @property {() => number} random a number in [0, 1) for backoff jitter
 */

/**
 * @typedef {object} Config
 * @property {string} url the WebSocket URL, e.g. ws://host/xmpp-websocket. Required.
 * @property {string} domain the XMPP domain. Required; a browser may pass location.hostname
 *   and set learnDomain
 * @property {boolean} [learnDomain] when the server refuses the domain (host-unknown), use
 *   the one its stream header names instead; default false
 * @property {sasl.Credentials|null} [credentials] null (default): log in as a guest (ANONYMOUS)
 * @property {readonly string[]} [mechanisms] SASL mechanisms we may use, best first; default
 *   sasl.MECHANISMS (SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, ANONYMOUS)
 * @property {string} [resource] resource to ask for; default: the server picks
 * @property {number} [timeoutMs] bound on each IQ and each login step; default 15000
 * @property {number} [pingIntervalMs] ping the server after this much silence to find dead
 *   connections; 0 disables; default 30000
 * @property {boolean} [reconnect] reconnect after an unexpected drop; default true
 * @property {number} [backoffInitialMs] first reconnect delay; default 1000
 * @property {number} [backoffMaxMs] largest reconnect delay; default 30000
 * @property {string[]} [features] disco#info features to advertise besides disco and ping;
 *   default JINGLE_FEATURES
 * @property {{category: string, type: string, name: string}} [identity] disco identity;
 *   default client/web "parley"
 * @property {typeof WebSocket} [WebSocket] default globalThis.WebSocket
 * @property {Partial<Clock>} [clock] default the global timers and Math.random
 */

/**
 * @typedef {'offline'|'connecting'|'online'|'reconnecting'|'closed'} State
 */

/**
 * @typedef {object} Events
 * @property {[jid: string, again: boolean]} online bound; again is true after a reconnection
 * @property {[reason: string]} offline the stream ended; a reconnection may follow
 * @property {[info: {attempt: number, delayMs: number}]} reconnecting a reconnection is scheduled
 * @property {[err: Error]} failed the client gave up (login refused, closed while connecting)
 * @property {[st: El]} message
 * @property {[st: El]} presence
 * @property {[st: El]} stanza every stanza received, before the specific events
 * @property {[dir: 'in'|'out', xml: string]} traffic raw XML, for debugging
 */

/**
 * @typedef {(iq: El) => (El|null|undefined|void|Promise<El|null|undefined|void>)} IqHandler
 *   returns the result payload (or nothing for an empty result); throws a
 *   StanzaError to answer with that error
 */

/** XmppClient is one XMPP session, reconnecting when asked. @extends {Emitter<Events>} */
export class XmppClient extends Emitter {
  /** @param {Config} cfg */
  constructor(cfg) {
    super();
    if (!cfg.url || !cfg.domain) throw new XmppError('url and domain are required');
    /** @type {Required<Omit<Config, 'resource'|'clock'>> & {resource?: string}} immutable after construction */
    this.cfg = {
      credentials: null,
      mechanisms: sasl.MECHANISMS,
      learnDomain: false,
      timeoutMs: 15000,
      pingIntervalMs: 30000,
      reconnect: true,
      backoffInitialMs: 1000,
      backoffMaxMs: 30000,
      features: [...JINGLE_FEATURES],
      identity: { category: 'client', type: 'web', name: `parley ${browserName()}`.trim() },
      WebSocket: globalThis.WebSocket,
      ...cfg,
    };
    /** @type {Clock} immutable */
    this.clock = {
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (id) => globalThis.clearTimeout(id),
      random: Math.random,
      ...cfg.clock,
    };
    /** @type {string} the XMPP domain; learned from the server with cfg.learnDomain */
    this.domain = cfg.domain;
    /** @type {string} the WebSocket URL of the next connection; useURL changes it */
    this.url = this.cfg.url;
    /** @type {string} the from of the server's last stream header */
    this.serverDomain = '';
    /** @type {State} written only by the connection methods */
    this.state = 'offline';
    /** @type {string|null} the bound full JID; null while not online */
    this.jid = null;
    /** @type {WebSocket|null} the current socket; owned by connectOnce/teardown */
    this.ws = null;
    /** @type {Map<string, {resolve: (st: El) => void, reject: (e: Error) => void, timer: any, to: string|null}>} IQs in flight by id */
    this.pending = new Map();
    /** @type {Map<string, IqHandler>} IQ handlers by "namespace name" of the payload */
    this.iqHandlers = new Map();
    /** @type {((el: El) => void)|null} receives elements during negotiation */
    this.negotiator = null;
    /** @type {El[]} elements that arrived during negotiation with no one waiting */
    this.early = [];
    this.nextId = 0;
    this.attempt = 0; // reconnection attempts since the last success
    this.everOnline = false;
    /** @type {any} the scheduled reconnection or ping timer */
    this.timer = null;
    this.lastReceived = 0; // counter bumped on every received element, for the idle ping

    this.handleIq(NS.discoInfo, 'query', (iq) => {
      if (attr(iq, 'type') !== 'get') throw new StanzaError('bad-request', 'modify');
      return this.discoInfo(iq);
    });
    this.handleIq(NS.ping, 'ping', () => null);
  }

  /**
   * connect opens the stream and logs in. It resolves with the bound JID, or
   * rejects (AuthError for a refused login, XmppError otherwise). Later
   * drops reconnect by themselves when cfg.reconnect is set.
   * @returns {Promise<string>}
   */
  async connect() {
    if (this.state === 'online') return /** @type {string} */ (this.jid);
    if (this.state === 'connecting') throw new XmppError('already connecting');
    this.state = 'connecting';
    try {
      return await this.connectOnce();
    } catch (err) {
      this.state = 'offline';
      throw err;
    }
  }

  /**
   * useURL sets the WebSocket URL of the next connections (reconnections
   * included): a guest that got a resumption token comes back with it.
   * @param {string} url
   */
  useURL(url) {
    this.url = url;
  }

  /**
   * close ends the stream politely and stops reconnecting.
   * @returns {Promise<void>}
   */
  async close() {
    const ws = this.ws;
    this.state = 'closed';
    this.clock.clearTimeout(this.timer);
    if (!ws) return;
    if (ws.readyState === ws.OPEN) {
      const closed = new Promise((resolve) => {
        ws.addEventListener('close', resolve);
        this.clock.setTimeout(() => resolve(undefined), 1000);
      });
      try {
        this.sendRaw(x('close', { xmlns: NS.framing }));
      } catch {
        // already going away
      }
      await closed;
    }
    this.teardown('closed by us');
  }

  /**
   * restart drops the connection as if the network had, so that the usual
   * reconnection follows (the room is rejoined, the focus calls again).
   * @param {string} reason
   */
  restart(reason) {
    if (this.state === 'online' && this.ws) this.fail(this.ws, reason);
  }

  /**
   * send writes one stanza. It throws DisconnectedError while offline: the
   * caller decides whether the stanza is worth keeping.
   * @param {El} st
   */
  send(st) {
    if (this.state !== 'online') throw new DisconnectedError(`cannot send while ${this.state}`);
    this.sendRaw(st);
  }

  /**
   * request sends an IQ (get or set) and resolves with the result stanza,
   * rejecting with StanzaError, TimeoutError or DisconnectedError.
   * @param {El} iq an <iq/>; an id is added if missing
   * @param {number} [timeoutMs] default cfg.timeoutMs
   * @returns {Promise<El>}
   */
  request(iq, timeoutMs = this.cfg.timeoutMs) {
    return this.requestNow(iq, timeoutMs, () => this.send(iq));
  }

  /**
   * @param {El} iq
   * @param {number} timeoutMs
   * @param {() => void} write
   * @returns {Promise<El>}
   */
  requestNow(iq, timeoutMs, write) {
    let id = attr(iq, 'id');
    if (!id) {
      id = this.newId();
      setAttr(iq, 'id', id);
    }
    const key = id;
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(key);
        reject(new TimeoutError(describe(iq)));
      }, timeoutMs);
      this.pending.set(key, { resolve, reject, timer, to: attr(iq, 'to') ?? null });
      try {
        write();
      } catch (err) {
        this.clock.clearTimeout(timer);
        this.pending.delete(key);
        reject(err);
      }
    });
  }

  /**
   * handleIq registers the handler for incoming IQ get/set requests whose
   * payload has this namespace and name, replacing any earlier one.
   * @param {string} namespace
   * @param {string} name
   * @param {IqHandler} handler
   */
  handleIq(namespace, name, handler) {
    this.iqHandlers.set(`${namespace} ${name}`, handler);
  }

  /** newId returns a fresh stanza id. */
  newId() {
    return `p${(++this.nextId).toString(36)}${Math.floor(this.clock.random() * 1e9).toString(36)}`;
  }

  // --- the connection ----------------------------------------------------

  /**
   * connectOnce connects once, or twice when the server names another
   * domain and cfg.learnDomain allows using it.
   * @returns {Promise<string>}
   */
  async connectOnce() {
    try {
      return await this.connectSocket();
    } catch (err) {
      const other = this.serverDomain && this.serverDomain !== this.domain;
      if (!(err instanceof StreamError && err.condition === 'host-unknown' && other && this.cfg.learnDomain)) throw err;
      this.domain = this.serverDomain;
      return await this.connectSocket();
    }
  }

  /** @returns {Promise<string>} */
  async connectSocket() {
    const ws = new this.cfg.WebSocket(this.url, 'xmpp');
    this.ws = ws;
    this.early = [];
    ws.addEventListener('message', (ev) => this.onMessage(ws, ev));
    ws.addEventListener('close', (ev) => this.onSocketClose(ws, `socket closed (${ev.code}${ev.reason ? ' ' + ev.reason : ''})`));
    ws.addEventListener('error', () => this.onSocketClose(ws, 'socket error'));
    try {
      await this.waitOpen(ws);
      if (ws.protocol !== 'xmpp') throw new XmppError('the server did not accept the xmpp subprotocol');
      let features = await this.openStream();
      await this.authenticate(features);
      features = await this.openStream();
      const jid = await this.bind(features);
      this.negotiator = null;
      this.jid = jid;
      this.state = 'online';
      const again = this.everOnline;
      this.everOnline = true;
      this.attempt = 0;
      for (const el of this.early.splice(0)) this.dispatch(el);
      this.schedulePing();
      this.emit('online', jid, again);
      return jid;
    } catch (err) {
      this.negotiator = null;
      if (this.ws === ws) this.ws = null;
      try {
        ws.close();
      } catch {
        // nothing to close
      }
      throw err instanceof Error ? err : new XmppError(String(err));
    }
  }

  /** @param {WebSocket} ws */
  waitOpen(ws) {
    return new Promise((resolve, reject) => {
      if (ws.readyState === ws.OPEN) return resolve(undefined);
      const t = this.clock.setTimeout(() => reject(new XmppError('could not reach the server in time')), this.cfg.timeoutMs);
      ws.addEventListener('open', () => {
        this.clock.clearTimeout(t);
        resolve(undefined);
      });
      ws.addEventListener('close', () => {
        this.clock.clearTimeout(t);
        reject(new XmppError('could not reach the server'));
      });
    });
  }

  /**
   * next waits for the next element during negotiation.
   * @param {string} what for the timeout message
   * @returns {Promise<El>}
   */
  next(what) {
    const queued = this.early.shift();
    if (queued) {
      if (local(queued) === 'error' && ns(queued) === NS.stream) {
        return Promise.reject(new StreamError(streamErrorCondition(queued)));
      }
      return Promise.resolve(queued);
    }
    return new Promise((resolve, reject) => {
      const ws = this.ws;
      const t = this.clock.setTimeout(() => {
        this.negotiator = null;
        reject(new TimeoutError(what));
      }, this.cfg.timeoutMs);
      const onClose = () => {
        this.clock.clearTimeout(t);
        reject(new XmppError(`the server closed the connection while waiting for ${what}`));
      };
      ws?.addEventListener('close', onClose);
      this.negotiator = (el) => {
        this.negotiator = null;
        this.clock.clearTimeout(t);
        ws?.removeEventListener('close', onClose);
        if (local(el) === 'error' && ns(el) === NS.stream) {
          reject(new StreamError(streamErrorCondition(el)));
          return;
        }
        resolve(el);
      };
    });
  }

  /** openStream sends <open/> and returns the <features/> that follow. */
  async openStream() {
    const waitOpen = this.next('the stream header');
    this.sendRaw(x('open', { xmlns: NS.framing, to: this.domain, version: '1.0' }));
    const open = await waitOpen;
    if (local(open) !== 'open' || ns(open) !== NS.framing) throw new XmppError(`expected <open/>, got <${local(open)}/>`);
    this.serverDomain = attr(open, 'from') ?? '';
    const features = await this.next('stream features');
    if (local(features) !== 'features' || ns(features) !== NS.stream) {
      throw new XmppError(`expected <stream:features/>, got <${local(features)}/>`);
    }
    return features;
  }

  /** @param {El} features */
  async authenticate(features) {
    const mechs = kid(features, 'mechanisms', NS.sasl);
    const offered = mechs ? kids(mechs, 'mechanism', NS.sasl).map(textOf) : [];
    const name = sasl.choose(offered, this.cfg.credentials, this.cfg.mechanisms);
    if (!name) throw new AuthError(this.cfg.credentials ? 'no common login mechanism' : 'guests may not log in here');
    const mech = sasl.create(name, this.cfg.credentials);
    const initial = await mech.initial();
    const auth = x('auth', { xmlns: NS.sasl, mechanism: name }, initial === null ? [] : [initial.length ? sasl.toBase64(initial) : '=']);
    let reply = this.next('the login answer');
    this.sendRaw(auth);
    for (;;) {
      const el = await reply;
      if (ns(el) !== NS.sasl) throw new XmppError(`unexpected <${local(el)}/> during login`);
      const data = textOf(el).trim();
      const bytes = data === '' || data === '=' ? new Uint8Array(0) : sasl.fromBase64(data);
      switch (local(el)) {
        case 'challenge': {
          const response = await mech.step(bytes);
          reply = this.next('the login answer');
          this.sendRaw(x('response', { xmlns: NS.sasl }, [response.length ? sasl.toBase64(response) : '=']));
          continue;
        }
        case 'success':
          await mech.finish(bytes);
          return;
        case 'failure': {
          const cond = kids(el).find((c) => local(c) !== 'text');
          const text = kids(el).find((c) => local(c) === 'text');
          throw new AuthError(cond ? local(cond) : 'not-authorized', text ? textOf(text) : '');
        }
        default:
          throw new XmppError(`unexpected <${local(el)}/> during login`);
      }
    }
  }

  /** @param {El} features @returns {Promise<string>} */
  async bind(features) {
    if (!kid(features, 'bind', NS.bind)) throw new XmppError('the server offers no resource binding');
    const id = this.newId();
    const res = this.cfg.resource ? [x('resource', {}, [this.cfg.resource])] : [];
    const answer = this.next('the bind result');
    this.sendRaw(x('iq', { xmlns: NS.client, type: 'set', id }, [x('bind', { xmlns: NS.bind }, res)]));
    const iq = await answer;
    if (local(iq) !== 'iq' || attr(iq, 'id') !== id) throw new XmppError('unexpected answer to bind');
    if (attr(iq, 'type') === 'error') throw StanzaError.fromStanza(iq);
    const jidEl = kid(kid(iq, 'bind', NS.bind) ?? iq, 'jid', NS.bind);
    const jid = jidEl ? textOf(jidEl).trim() : '';
    if (!jid.includes('/')) throw new XmppError('bind returned no full JID');
    return jid;
  }

  /**
   * @param {WebSocket} ws
   * @param {MessageEvent} ev
   */
  onMessage(ws, ev) {
    if (ws !== this.ws) return;
    if (typeof ev.data !== 'string') {
      this.fail(ws, 'the server sent a binary message');
      return;
    }
    if (this.has('traffic')) this.emit('traffic', 'in', ev.data);
    /** @type {El} */
    let el;
    try {
      el = parseXml(ev.data);
    } catch (err) {
      this.fail(ws, `unreadable XML from the server: ${err instanceof Error ? err.message : err}`);
      return;
    }
    this.lastReceived++;
    if (this.negotiator) {
      this.negotiator(el);
      return;
    }
    if (this.state !== 'online') {
      this.early.push(el);
      return;
    }
    this.dispatch(el);
  }

  /** @param {El} el */
  dispatch(el) {
    if (ns(el) === NS.framing && local(el) === 'close') {
      this.fail(/** @type {WebSocket} */ (this.ws), 'the server closed the stream');
      return;
    }
    if (ns(el) === NS.stream && local(el) === 'error') {
      this.fail(/** @type {WebSocket} */ (this.ws), `stream error: ${streamErrorCondition(el)}`);
      return;
    }
    this.emit('stanza', el);
    switch (local(el)) {
      case 'iq':
        this.onIq(el);
        break;
      case 'message':
        this.emit('message', el);
        break;
      case 'presence':
        this.emit('presence', el);
        break;
    }
  }

  /** @param {El} iq */
  onIq(iq) {
    const type = attr(iq, 'type');
    const id = attr(iq, 'id') ?? '';
    if (type === 'result' || type === 'error') {
      const p = this.pending.get(id);
      if (!p || !this.sameSender(attr(iq, 'from') ?? null, p.to)) return; // unsolicited or spoofed
      this.pending.delete(id);
      this.clock.clearTimeout(p.timer);
      if (type === 'result') p.resolve(iq);
      else p.reject(StanzaError.fromStanza(iq));
      return;
    }
    if (type !== 'get' && type !== 'set') return; // RFC 6120 §8.2.3: ignore
    const payload = kids(iq)[0];
    const handler = payload && this.iqHandlers.get(`${ns(payload)} ${local(payload)}`);
    if (!handler) {
      this.replyError(iq, 'service-unavailable', 'cancel');
      return;
    }
    Promise.resolve()
      .then(() => handler(iq))
      .then(
        (result) => this.reply(iq, 'result', result ? [result] : []),
        (err) => {
          if (err instanceof StanzaError) this.replyError(iq, err.condition, err.type, err.text, err.extra);
          else {
            console.error('IQ handler failed', err);
            this.replyError(iq, 'internal-server-error', 'cancel');
          }
        },
      );
  }

  /**
   * sameSender compares an answer's from with the request's to: an answer
   * to a request without to (or to our server or own bare JID) may come
   * without from.
   * @param {string|null} from
   * @param {string|null} to
   */
  sameSender(from, to) {
    const bare = this.jid ? this.jid.split('/')[0] : '';
    const self = (/** @type {string|null} */ j) => !j || j === this.domain || j === bare;
    if (self(to)) return self(from);
    return (from ?? '').toLowerCase() === (to ?? '').toLowerCase();
  }

  /**
   * @param {El} iq
   * @param {'result'|'error'} type
   * @param {El[]} children
   */
  reply(iq, type, children) {
    const attrs = /** @type {Record<string,string>} */ ({ xmlns: NS.client, type, id: attr(iq, 'id') ?? '' });
    const from = attr(iq, 'from');
    if (from) attrs.to = from;
    try {
      this.send(x('iq', attrs, children));
    } catch {
      // offline: the requester will time out or has gone
    }
  }

  /**
   * @param {El} iq
   * @param {string} condition
   * @param {string} type
   * @param {string} [text]
   * @param {El} [extra] application-specific condition
   */
  replyError(iq, condition, type, text, extra) {
    const kidsOfError = [x(condition, { xmlns: NS.stanzas })];
    if (text) kidsOfError.push(x('text', { xmlns: NS.stanzas }, [text]));
    if (extra) kidsOfError.push(extra);
    this.reply(iq, 'error', [x('error', { type }, kidsOfError)]);
  }

  /** discoInfo answers disco#info on our full JID (docs/SIGNALLING.md §1). @param {El} iq */
  discoInfo(iq) {
    const q = kid(iq, 'query', NS.discoInfo);
    if (q && attr(q, 'node')) throw new StanzaError('item-not-found');
    const id = this.cfg.identity;
    const features = [...new Set([NS.discoInfo, NS.ping, ...this.cfg.features])].sort();
    return x('query', { xmlns: NS.discoInfo }, [
      x('identity', { category: id.category, type: id.type, name: id.name }),
      ...features.map((v) => x('feature', { var: v })),
    ]);
  }

  /** @param {El} el */
  sendRaw(el) {
    const ws = this.ws;
    if (!ws || ws.readyState !== ws.OPEN) throw new DisconnectedError('the socket is not open');
    const text = serialize(el);
    if (this.has('traffic')) this.emit('traffic', 'out', text);
    ws.send(text);
  }

  /** schedulePing pings the server when the stream has been quiet, to notice a dead link. */
  schedulePing() {
    if (!this.cfg.pingIntervalMs) return;
    const seen = this.lastReceived;
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      if (this.state !== 'online') return;
      if (this.lastReceived !== seen) {
        this.schedulePing();
        return;
      }
      const ws = this.ws;
      this.request(x('iq', { xmlns: NS.client, type: 'get', to: this.domain }, [x('ping', { xmlns: NS.ping })]), this.cfg.timeoutMs)
        .then(() => this.schedulePing())
        .catch((err) => {
          if (err instanceof TimeoutError && ws && ws === this.ws) this.fail(ws, 'the server stopped answering');
          else if (err instanceof StanzaError) this.schedulePing();
        });
    }, this.cfg.pingIntervalMs);
  }

  /**
   * fail drops the current socket after a protocol problem.
   * @param {WebSocket} ws
   * @param {string} reason
   */
  fail(ws, reason) {
    if (ws !== this.ws) return;
    try {
      ws.close(1000);
    } catch {
      // already closed
    }
    this.onSocketClose(ws, reason);
  }

  /**
   * @param {WebSocket} ws
   * @param {string} reason
   */
  onSocketClose(ws, reason) {
    if (ws !== this.ws) return;
    const wasOnline = this.state === 'online';
    this.teardown(reason);
    if (!wasOnline) return; // connectOnce reports its own failure
    this.emit('offline', reason);
    if (this.cfg.reconnect && this.state !== 'closed') this.scheduleReconnect();
  }

  /** @param {string} reason */
  teardown(reason) {
    const ws = this.ws;
    this.ws = null;
    this.jid = null;
    this.negotiator = null;
    if (this.state !== 'closed') this.state = 'offline';
    this.clock.clearTimeout(this.timer);
    for (const [id, p] of this.pending) {
      this.clock.clearTimeout(p.timer);
      p.reject(new DisconnectedError(reason));
      this.pending.delete(id);
    }
    if (ws && ws.readyState !== ws.CLOSED) {
      try {
        ws.close();
      } catch {
        // closing anyway
      }
    }
  }

  scheduleReconnect() {
    this.attempt++;
    const base = Math.min(this.cfg.backoffMaxMs, this.cfg.backoffInitialMs * 2 ** (this.attempt - 1));
    const delayMs = Math.round(base * (0.75 + 0.5 * this.clock.random()));
    this.state = 'reconnecting';
    this.emit('reconnecting', { attempt: this.attempt, delayMs });
    this.timer = this.clock.setTimeout(() => {
      if (this.state !== 'reconnecting') return;
      this.state = 'connecting';
      this.connectOnce().catch((err) => {
        if (this.state === 'closed') return;
        this.state = 'offline';
        if (err instanceof AuthError) {
          this.emit('failed', err);
          return;
        }
        this.scheduleReconnect();
      });
    }, delayMs);
  }
}

/** @param {El} el */
function streamErrorCondition(el) {
  const c = kids(el).find((k) => ns(k) === NS.streams && local(k) !== 'text');
  return c ? local(c) : 'undefined-condition';
}

/** @param {El} iq */
function describe(iq) {
  const p = kids(iq)[0];
  return `${attr(iq, 'type')} ${p ? `<${local(p)} xmlns='${ns(p)}'/>` : 'iq'} to ${attr(iq, 'to') ?? 'the server'}`;
}

/**
 * iq builds an <iq/> of the given type with one payload.
 * @param {'get'|'set'} type
 * @param {string|null} to
 * @param {El} payload
 */
export function iq(type, to, payload) {
  /** @type {Record<string,string>} */
  const attrs = { xmlns: NS.client, type };
  if (to) attrs.to = to;
  return x('iq', attrs, [payload]);
}

/**
 * browserName names the browser from its user agent, for the server's logs
 * (the disco identity): "Firefox 140", "Chrome 156", "Edge 130",
 * "Safari 18", or '' outside a browser.
 * @param {string} [ua]
 * @returns {string}
 */
export function browserName(ua = globalThis.navigator?.userAgent ?? '') {
  for (const [re, name] of /** @type {[RegExp, string][]} */ ([
    [/Edg\/(\d+)/, 'Edge'],
    [/OPR\/(\d+)/, 'Opera'],
    [/Firefox\/(\d+)/, 'Firefox'],
    [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'],
    [/Version\/(\d+)[.\d]* .*Safari/, 'Safari'],
  ])) {
    const m = re.exec(ua);
    if (m) return `${name} ${m[1]}`;
  }
  return '';
}
