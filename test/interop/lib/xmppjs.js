// Adapter for npm's @xmpp/client (xmpp.js): WebSocket (RFC 7395) and TCP with
// STARTTLS, with the SASL mechanism forced by the caller.
import { client } from "@xmpp/client";
import WebSocket from "ws";
import { env } from "./env.js";
import { Session, TimeoutError, withTimeout } from "./session.js";
import { NS, bare } from "./stanza.js";

const NS_ROSTER = NS.roster;

// Node 20 has no global WebSocket (22 has); @xmpp/websocket expects one.
globalThis.WebSocket ??= WebSocket;
// The target's certificate is self-signed and @xmpp/starttls offers no option
// to skip verification, so this test process accepts any certificate.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";

export class LoginError extends Error {
  constructor(message, condition) {
    super(message);
    this.name = "LoginError";
    this.condition = condition; // SASL failure condition, when there was one
  }
}

class XmppjsSession extends Session {
  constructor(transport, xmpp) {
    super("xmpp.js", transport);
    this.xmpp = xmpp; // the @xmpp/client entity
    this.features = []; // every <stream:features/> received, in order
    this.errors = []; // 'error' events, kept so they never crash the test process
    this.lastNonza = ""; // the last non-stanza element received, for failure messages
  }

  /** secure reports whether the stream runs over TLS (or a loopback WebSocket
   * the library itself treats as secure). */
  get tlsProtocol() {
    return this.xmpp.socket?.socket?.getProtocol?.() ?? null;
  }

  async sendStanza(stanza) {
    await this.xmpp.send(stanza);
  }

  async closeStream() {
    await this.xmpp.stop();
  }

  forceClose() {
    this.xmpp.socket?.socket?.destroy?.();
    this.xmpp.socket?.socket?.terminate?.();
  }
}

const NS_SM = "urn:xmpp:sm:3";

/** hideSM removes stream management from a <stream:features/>, inline
 * offers included. */
export function hideSM(features) {
  const drop = (parent, pred) => { if (parent) parent.children = parent.children.filter((c) => !(c.is && pred(c))); };
  drop(features, (c) => c.is("sm", NS_SM));
  const inline = features.getChild("authentication", "urn:xmpp:sasl:2")?.getChild("inline");
  drop(inline, (c) => c.is("sm", NS_SM));
  drop(inline?.getChild("bind", "urn:xmpp:bind:0")?.getChild("inline"), (c) => c.attrs.var === NS_SM);
}

function serviceURL(transport) {
  if (transport === "websocket") return env.wsURL;
  if (transport === "tcp") return `xmpp://${env.tcpHost}:${env.tcpPort}`;
  throw new Error(`unknown transport ${transport}`);
}

/**
 * loginXmppjs opens a stream and logs in with exactly `mechanism`.
 * Resolves with a Session once a resource is bound; rejects with a
 * LoginError (condition set on SASL failure) or a TimeoutError.
 */
export async function loginXmppjs({
  transport,
  mechanism,
  user,
  password,
  domain = env.domain,
}) {
  const xmpp = client({
    service: serviceURL(transport),
    domain,
    resource: `xmppjs-${process.pid}`,
    credentials: async (authenticate, offered) => {
      if (!offered.includes(mechanism)) {
        throw new LoginError(`server did not offer ${mechanism}; offered ${offered.join(", ")}`);
      }
      const creds = mechanism === "ANONYMOUS" ? {} : { username: user, password };
      await authenticate(creds, mechanism);
    },
  });
  // A failed login must fail the test, not be retried a second later.
  xmpp.reconnect.stop();
  // xmpp.js 0.14 turns XEP-0198 on whenever it is offered, and its inbound
  // counter races with the stanzas around <enabled/>: its h can go
  // backwards, which Prosody answers by closing the stream. The suite is not
  // about xmpp.js's stream management (tests/apps-sm.test.js uses
  // slixmpp's), so the offer is hidden from it, before its own listener.
  // With SASL2 (XEP-0388) the offer also comes inline: in <authentication/>
  // and as a Bind 2 feature.
  xmpp.prependListener("element", (el) => {
    if (el.is("features", "http://etherx.jabber.org/streams")) hideSM(el);
  });
  const session = new XmppjsSession(transport, xmpp);
  xmpp.on("error", (err) => session.errors.push(err));
  xmpp.on("nonza", (el) => {
    session.lastNonza = el.toString();
    if (el.name === "stream:features" || el.is("features", "http://etherx.jabber.org/streams")) {
      session.features.push(el);
    }
  });
  xmpp.on("stanza", (el) => session.deliver(el));
  // RFC 6121 section 2.1.6: a client acknowledges roster pushes from its own
  // account (no 'from', or its bare JID) and refuses any other.
  xmpp.iqCallee.set(NS_ROSTER, "query", ({ stanza }) => {
    const from = stanza.attrs.from;
    return !from || from === bare(session.jid) || undefined;
  });
  try {
    const jid = await withTimeout(xmpp.start(), `xmpp.js ${transport} ${mechanism} login`, env.loginMs);
    session.jid = jid.toString();
    return session;
  } catch (err) {
    xmpp.stop().catch(() => {});
    if (err.name === "SASLError") {
      throw new LoginError(`SASL ${mechanism} failed: ${err.condition}`, err.condition);
    }
    if (err instanceof TimeoutError || err instanceof LoginError) throw err;
    // Exceptions from inside the library (a DOMException from atob on a bad
    // base64 payload, say) print as {} in the test report; name them.
    throw new LoginError(
      `xmpp.js ${transport} ${mechanism} login failed: ${err.name}: ${err.message}` +
        ` (last from the server: ${session.lastNonza})`,
    );
  }
}
