// @ts-check
/**
 * XMPP client over WebSocket (RFC 7395): stream open and features, SASL
 * (SCRAM-SHA-256/1, PLAIN, ANONYMOUS), stream restart, resource binding,
 * IQ requests matched to their responses with timeouts, answers to
 * disco#info and ping, and reconnection with exponential backoff.
 *
 * The parts: xmpp/protocol.js (namespaces, errors, iq), xmpp/negotiate.js
 * (stream open, SASL, bind), xmpp/iq.js (requests and answers) and
 * xmpp/liveness.js (idle ping, reconnection). This module keeps the
 * connection and its state.
 *
 * No DOM access: it runs in browsers and in Node (pass a WebSocket class).
 */
import { Emitter } from './emitter.js';
import * as sasl from './sasl.js';
import { x, parse, serialize, attr, ns, local } from './xml.js';
import { NS, JINGLE_FEATURES, XmppError, StanzaError, StreamError, DisconnectedError, browserName, streamErrorCondition } from './xmpp/protocol.js';
import { waitOpen, openStream, authenticate, bind } from './xmpp/negotiate.js';
import { requestNow, onIq, discoInfo, capsElement } from './xmpp/iq.js';
import { schedulePing, scheduleReconnect } from './xmpp/liveness.js';

export { NS, JINGLE_FEATURES, XmppError, StanzaError, StreamError, TimeoutError, DisconnectedError, AuthError, iq, browserName } from './xmpp/protocol.js';

/** @typedef {import('./xml.js').El} El */

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
    /** @type {Promise<El|null>|null} our presences' capabilities, once caps() made them */
    this.capsMade = null;

    this.handleIq(NS.discoInfo, 'query', (iq) => {
      if (attr(iq, 'type') !== 'get') throw new StanzaError('bad-request', 'modify');
      return discoInfo(this, iq);
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
   * caps is the <c/> (XEP-0115) our presences carry: a hash of our
   * disco#info answer, made once. Null where it cannot be made.
   * @returns {Promise<El|null>}
   */
  caps() {
    this.capsMade ??= capsElement(this).catch(() => null);
    return this.capsMade;
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
    return requestNow(this, iq, timeoutMs, () => this.send(iq));
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
      await waitOpen(this, ws);
      if (ws.protocol !== 'xmpp') throw new XmppError('the server did not accept the xmpp subprotocol');
      let features = await openStream(this);
      await authenticate(this, features);
      features = await openStream(this);
      const jid = await bind(this, features);
      this.negotiator = null;
      this.jid = jid;
      this.state = 'online';
      const again = this.everOnline;
      this.everOnline = true;
      this.attempt = 0;
      for (const el of this.early.splice(0)) this.dispatch(el);
      schedulePing(this);
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
      el = parse(ev.data);
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
        onIq(this, el);
        break;
      case 'message':
        this.emit('message', el);
        break;
      case 'presence':
        this.emit('presence', el);
        break;
    }
  }

  /** @param {El} el */
  sendRaw(el) {
    const ws = this.ws;
    if (!ws || ws.readyState !== ws.OPEN) throw new DisconnectedError('the socket is not open');
    const text = serialize(el);
    if (this.has('traffic')) this.emit('traffic', 'out', text);
    ws.send(text);
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
    if (this.cfg.reconnect && this.state !== 'closed') scheduleReconnect(this);
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

}
