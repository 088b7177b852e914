// Adapter for strophe.js over WebSocket (RFC 7395). It is the suite's second
// WebSocket implementation and the only one of the two with SCRAM-SHA-256.
import { Strophe, $iq } from "strophe.js";
import { DOMParser } from "@xmldom/xmldom";
import { env } from "./env.js";
import { LoginError } from "./xmppjs.js";
import { Session, withTimeout } from "./session.js";
import { NS, bare, parse } from "./stanza.js";

// Strophe logs at INFO to the console; the test output wants failures only.
Strophe.setLogLevel(Strophe.LogLevel.FATAL);

const MECHANISMS = Object.freeze({
  "SCRAM-SHA-1": Strophe.SASLSHA1,
  "SCRAM-SHA-256": Strophe.SASLSHA256,
  PLAIN: Strophe.SASLPlain,
  ANONYMOUS: Strophe.SASLAnonymous,
});

// strophe.js runs its SASL challenge handler as a detached promise, so an
// exception inside it (atob on a malformed challenge, say) would surface only
// as an unhandled rejection, reported without a message; route it to the
// login instead.
class GuardedConnection extends Strophe.Connection {
  async _sasl_challenge_cb(elem) {
    try {
      return await super._sasl_challenge_cb(elem);
    } catch (err) {
      this.onSASLCrash?.(err, Strophe.serialize(elem));
      return false;
    }
  }
}

class StropheSession extends Session {
  constructor(conn) {
    super("strophe.js", "websocket");
    this.conn = conn; // the Strophe.Connection
    this.disconnected = null; // resolves when strophe reports DISCONNECTED; set by loginStrophe
  }

  async sendStanza(stanza) {
    // Over WebSocket each stanza is its own document (RFC 7395 section 3.3.3),
    // so it carries the content namespace itself, as strophe's builders do.
    const el = parse(stanza.toString());
    el.attrs.xmlns ??= NS.client;
    const doc = new DOMParser().parseFromString(el.toString(), "text/xml");
    this.conn.send(doc.documentElement);
    this.conn.flush();
  }

  async closeStream() {
    this.conn.disconnect("test done");
    await this.disconnected;
  }

  forceClose() {
    closeSocket(this.conn);
  }
}

// strophe.js has no public "drop the socket now"; disconnect() waits for the
// server when a stream is open, and does nothing before login completes.
function closeSocket(conn) {
  conn._proto?._closeSocket?.();
  conn.reset();
}

function saslCondition(failure) {
  if (!failure) return null;
  for (let n = failure.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && n.namespaceURI === NS.sasl && n.localName !== "text") {
      return n.localName;
    }
  }
  return null;
}

/**
 * loginStrophe logs in over WebSocket with exactly `mechanism` (the only one
 * registered with the connection). Resolves with a Session once bound.
 */
export async function loginStrophe({ mechanism, user, password, domain = env.domain }) {
  const Mech = MECHANISMS[mechanism];
  if (!Mech) throw new Error(`strophe adapter: no mechanism ${mechanism}`);
  const conn = new GuardedConnection(env.wsURL, { mechanisms: [Mech] });
  const session = new StropheSession(conn);
  conn.addHandler((el) => {
    session.deliver(parse(Strophe.serialize(el)));
    return true; // keep the handler
  });
  // RFC 6121 section 2.1.6: acknowledge roster pushes from our own account.
  conn.addHandler(
    (iq) => {
      const from = iq.getAttribute("from");
      if (!from || from === bare(conn.jid)) {
        conn.send($iq({ type: "result", id: iq.getAttribute("id") }));
      }
      return true;
    },
    NS.roster,
    "iq",
    "set",
  );
  let onDisconnected;
  session.disconnected = new Promise((resolve) => {
    onDisconnected = resolve;
  });
  const jid = mechanism === "ANONYMOUS" ? domain : `${user}@${domain}/strophe-${process.pid}`;
  const login = new Promise((resolve, reject) => {
    conn.connect(jid, password ?? "", (status, condition, elem) => {
      switch (status) {
        case Strophe.Status.CONNECTED:
          session.jid = conn.jid;
          resolve(session);
          break;
        case Strophe.Status.AUTHFAIL: {
          const cond = saslCondition(elem) ?? condition;
          reject(new LoginError(`SASL ${mechanism} failed: ${cond}`, cond));
          break;
        }
        case Strophe.Status.CONNFAIL:
        case Strophe.Status.ERROR:
          reject(new LoginError(`connection failed: ${condition}`));
          break;
        case Strophe.Status.DISCONNECTED:
          onDisconnected();
          reject(new LoginError("disconnected before login completed"));
          break;
        default:
      }
    });
  });
  let failLogin;
  const crashed = new Promise((_, reject) => {
    failLogin = (err, challenge) =>
      reject(new LoginError(`strophe.js ${mechanism} login threw ${err?.name}: ${err?.message} on ${challenge}`));
  });
  conn.onSASLCrash = failLogin;
  try {
    return await withTimeout(Promise.race([login, crashed]), `strophe.js websocket ${mechanism} login`, env.loginMs);
  } catch (err) {
    // After a SASL failure the server may keep the stream open for a retry;
    // close the socket so no handle outlives the test.
    closeSocket(conn);
    throw err;
  }
}
