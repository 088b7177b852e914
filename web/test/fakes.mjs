// Test doubles for the XMPP library: a WebSocket whose far end is a
// scripted XMPP server, and a clock whose time moves only when told.
import { parse, serialize } from '../static/lib/xml.js';

/** FakeClock runs timers when advance() moves time past them. */
export class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map(); // id -> {at, fn}
    this.nextId = 1;
    this.setTimeout = (fn, ms) => {
      const id = this.nextId++;
      this.timers.set(id, { at: this.now + ms, fn });
      return id;
    };
    this.clearTimeout = (id) => this.timers.delete(id);
    this.random = () => 0.5; // jitter factor 1.0
  }

  /** pending lists the delays of the timers still due, from now. */
  pending() {
    return [...this.timers.values()].map((t) => t.at - this.now).sort((a, b) => a - b);
  }

  /** advance moves time forward, running due timers in order, then lets promises settle. */
  async advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

/** settle lets queued promise callbacks and immediates run. */
export async function settle() {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/**
 * until settles until cond holds, for at most 5 s of real time: a join's
 * first presence waits for its entity-capabilities hash, which
 * crypto.subtle computes on another thread, so that a few turns of the
 * event loop (settle) are not always enough on a busy machine.
 * @param {() => boolean} cond
 */
export async function until(cond) {
  const end = Date.now() + 5000;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
  await settle();
}

/**
 * FakeServer plays an XMPP server behind FakeWebSocket: stream opens,
 * ANONYMOUS login, bind, and a hook for every stanza after that.
 */
export class FakeServer {
  constructor({ domain = 'localhost' } = {}) {
    this.domain = domain;
    this.sockets = [];
    this.received = []; // every stanza clients sent after binding, parsed
    this.onStanza = null; // (el, socket) => void
    this.refuseConnections = false; // close new sockets at once
    this.failAuth = false;
    this.failAuthText = ''; // a <text/> in the failure
    this.mechanisms = ['PLAIN', 'ANONYMOUS']; // offered
    this.auths = []; // the <auth/> elements received
    this.binds = 0;
  }

  /** WebSocket returns a constructor bound to this server, as XmppClient takes. */
  get WebSocket() {
    const server = this;
    return class extends FakeWebSocket {
      constructor(url, protocol) {
        super(url, protocol, server);
      }
    };
  }

  /** last is the newest socket. */
  get last() {
    return this.sockets[this.sockets.length - 1];
  }

  /**
   * @param {FakeWebSocket} ws
   * @param {string} text
   */
  handle(ws, text) {
    const el = parse(text);
    if (el.name === 'open') {
      if (el.attrs.to !== this.domain) {
        ws.deliver(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="${this.domain}" id="x" version="1.0"/>`);
        ws.deliver('<stream:error xmlns:stream="http://etherx.jabber.org/streams"><host-unknown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>');
        ws.serverClose();
        return;
      }
      ws.deliver(`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="${this.domain}" id="s${this.sockets.length}" version="1.0"/>`);
      ws.deliver(ws.authed
        ? '<stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></stream:features>'
        : `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl">${this.mechanisms.map((m) => `<mechanism>${m}</mechanism>`).join('')}</mechanisms></stream:features>`);
      return;
    }
    if (el.name === 'auth') {
      this.auths.push(el);
      if (this.failAuth) {
        const text = this.failAuthText ? `<text xml:lang="en">${this.failAuthText}</text>` : '';
        ws.deliver(`<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized/>${text}</failure>`);
        return;
      }
      ws.authed = true;
      ws.deliver('<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>');
      return;
    }
    if (el.name === 'close') {
      ws.deliver('<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>');
      ws.serverClose();
      return;
    }
    if (el.name === 'iq' && el.children[0]?.name === 'bind') {
      this.binds++;
      ws.jid = `guest${this.binds}@${this.domain}/r${this.binds}`;
      ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>${ws.jid}</jid></bind></iq>`);
      return;
    }
    this.received.push(el);
    this.onStanza?.(el, ws);
  }
}

/** FakeWebSocket is the client end of a connection to a FakeServer. */
export class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  constructor(url, protocol, server) {
    this.url = url;
    this.protocol = protocol;
    this.server = server;
    this.CONNECTING = 0;
    this.OPEN = 1;
    this.CLOSING = 2;
    this.CLOSED = 3;
    this.readyState = 0;
    this.listeners = new Map();
    this.sent = [];
    this.authed = false;
    this.ending = false; // a close is queued
    this.jid = '';
    server.sockets.push(this);
    setImmediate(() => {
      if (server.refuseConnections) {
        this.serverClose(1006);
        return;
      }
      this.readyState = 1;
      this.fire('open', {});
    });
  }

  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
  }

  removeEventListener(type, fn) {
    this.listeners.get(type)?.delete(fn);
  }

  fire(type, ev) {
    for (const fn of [...(this.listeners.get(type) ?? [])]) fn(ev);
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('socket not open');
    this.sent.push(text);
    this.server.handle(this, text);
  }

  /** deliver is the server sending one frame (an element or its XML). */
  deliver(x) {
    if (this.readyState !== 1 || this.ending) return;
    const data = typeof x === 'string' ? x : serialize(x);
    setImmediate(() => this.readyState === 1 && this.fire('message', { data }));
  }

  /** serverClose is the server (or the network) ending the connection after what it already sent. */
  serverClose(code = 1000) {
    if (this.ending) return;
    this.ending = true;
    setImmediate(() => {
      this.readyState = 3;
      this.fire('close', { code, reason: '' });
    });
  }

  /** close is the client closing: nothing more is delivered. */
  close(code = 1000) {
    if (this.readyState === 1) this.readyState = 2;
    this.serverClose(code);
  }
}
