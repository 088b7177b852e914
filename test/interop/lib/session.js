// Session is what every client adapter (xmpp.js, strophe.js, slixmpp) hands
// to the scenarios: a logged-in stream that records inbound stanzas as ltx
// elements, waits for them with a per-step deadline, and sends stanzas.
import { env } from "./env.js";
import { uniqueName } from "./stanza.js";

export class TimeoutError extends Error {
  constructor(what, ms) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = "TimeoutError";
  }
}

/** withTimeout rejects with a TimeoutError naming `what` if p takes too long. */
export function withTimeout(p, what, ms = env.stepMs) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

export class Session {
  constructor(impl, transport) {
    this.impl = impl; // library name, for messages
    this.transport = transport; // "websocket" or "tcp"
    this.jid = ""; // full JID bound by the server; set by the adapter
    this.received = []; // every inbound stanza, in order; appended by deliver
    this.waiters = new Set(); // pending waitFor calls; owned by deliver/waitFor
    this.closed = false;
  }

  toString() {
    return `${this.impl}/${this.transport} ${this.jid}`;
  }

  /** deliver is called by the adapter for every inbound stanza. */
  deliver(stanza) {
    const index = this.received.length;
    this.received.push(stanza);
    for (const w of this.waiters) {
      if (index >= w.since && w.predicate(stanza)) {
        this.waiters.delete(w);
        w.resolve(stanza);
      }
    }
  }

  /** mark returns a cursor; waitFor(…, {since: mark}) ignores older stanzas. */
  mark() {
    return this.received.length;
  }

  waitFor(predicate, what, { since = 0, timeout = env.stepMs } = {}) {
    for (let i = since; i < this.received.length; i++) {
      if (predicate(this.received[i])) return Promise.resolve(this.received[i]);
    }
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { predicate, since, resolve };
      this.waiters.add(waiter);
    });
    return withTimeout(p, `${what} at ${this}`, timeout).finally(() =>
      this.waiters.delete(waiter),
    );
  }

  /** send transmits an ltx stanza through the client library. */
  async send(stanza) {
    await this.sendStanza(stanza);
  }

  /** iq sends an IQ and resolves with its result or error stanza; silence
   * (no response within the step timeout) rejects. */
  async iq(stanza) {
    stanza.attrs.id ??= uniqueName("iq");
    const since = this.mark();
    const { id } = stanza.attrs;
    await this.send(stanza);
    return this.waitFor(
      (s) =>
        s.name === "iq" &&
        s.attrs.id === id &&
        (s.attrs.type === "result" || s.attrs.type === "error"),
      `the response to iq ${id} (${stanza.getChildElements()[0]?.attrs.xmlns})`,
      { since },
    );
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) w.resolve(null);
    this.waiters.clear();
    await withTimeout(this.closeStream(), `${this} to close`).catch(() =>
      this.forceClose(),
    );
  }
}

/** closeAll closes sessions, ignoring the ones that never opened. */
export async function closeAll(...sessions) {
  await Promise.all(sessions.filter(Boolean).map((s) => s.close()));
}
