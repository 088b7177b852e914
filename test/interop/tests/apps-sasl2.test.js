// SASL2 (XEP-0388), Bind 2 (XEP-0386) and FAST (XEP-0484) with @xmpp/client
// 0.14's own implementation: one round trip after the stream opens logs in,
// binds a resource and turns stream management on; the FAST token it asked
// for then brings it back after a cut, resuming its session in the same
// round trip, and logs the same app in without the password. Prosody 0.12 (Debian)
// has none of the three: there the row checks that SASL2 is not offered.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { client, xml } from "@xmpp/client";
import { login } from "../lib/clients.js";
import { env, password } from "../lib/env.js";
import { withTimeout } from "../lib/session.js";
import { uniqueName } from "../lib/stanza.js";
import "../lib/xmppjs.js"; // WebSocket global, self-signed certificates accepted

const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";
const NS_SASL2 = "urn:xmpp:sasl:2";
const NS_BIND2 = "urn:xmpp:bind:0";
const NS_FAST = "urn:xmpp:fast:0";

/** app is an @xmpp/client as a mobile app sets it up: a stable user-agent
 * id, and a token store (here a variable) for FAST. */
function app({ pass, agent, token }) {
  const xmpp = client({
    service: `xmpp://${env.tcpHost}:${env.tcpPort}`, domain: env.domain, username: "bob", password: pass,
    resource: "phone", userAgent: xml("user-agent", { id: agent }, xml("software", {}, "interop")),
  });
  xmpp.reconnect.stop();
  let saved = token;
  xmpp.fast.fetchToken = async () => saved;
  xmpp.fast.saveToken = async (t) => { saved = t; };
  xmpp.fast.deleteToken = async () => { saved = null; };
  const sent = [];
  const features = [];
  const errors = [];
  xmpp.on("send", (el) => sent.push(el));
  xmpp.on("nonza", (el) => { if (el.name === "stream:features" || el.is("features", "http://etherx.jabber.org/streams")) features.push(el); });
  xmpp.on("error", (err) => errors.push(err));
  return { xmpp, sent, features, errors, token: () => saved };
}

describe("SASL2, Bind 2 and FAST (XEP-0388, XEP-0386, XEP-0484)", () => {
  const apps = [];
  after(() => Promise.all(apps.map((a) => a.xmpp.stop().catch(() => {}))));

  it("one round trip logs in, binds and enables stream management; the FAST token then logs in without the password", async () => {
    if (env.target === "prosody") {
      const s = await login("xmpp.js/tcp", "bob");
      try {
        assert.ok(s.features.length > 0 && s.features.every((f) => !f.getChild("authentication", NS_SASL2)), "Prosody 0.12 offers no SASL2");
      } finally {
        await s.close();
      }
      return;
    }
    const agent = globalThis.crypto.randomUUID();
    const first = app({ pass: password("bob"), agent });
    apps.push(first);
    const jid = await withTimeout(first.xmpp.start(), "SASL2 login with SCRAM-SHA-1", env.loginMs);
    assert.ok(first.features.at(-1)?.getChild("authentication", NS_SASL2), "the server offers SASL2");
    const auth = first.sent.find((el) => el.is("authenticate", NS_SASL2));
    assert.ok(auth, "xmpp.js authenticated with SASL2");
    assert.equal(auth.attrs.mechanism, "SCRAM-SHA-1");
    assert.ok(auth.getChild("bind", NS_BIND2), "with Bind 2");
    assert.equal(auth.getChild("request-token", NS_FAST)?.attrs.mechanism, "HT-SHA-256-NONE", "asking for a FAST token");
    assert.ok(!first.sent.some((el) => el.is("auth", NS_SASL)), "no RFC 6120 SASL");
    assert.ok(!first.sent.some((el) => el.name === "iq" && el.getChild("bind")), "no bind IQ: Bind 2 bound the resource");
    assert.ok(!first.features.some((f) => f.getChild("bind", "urn:ietf:params:xml:ns:xmpp-bind")),
      "no stream restart after authentication: no post-login features");
    assert.match(jid.resource, /^phone\./, "the resource starts with the client's tag");
    assert.ok(first.xmpp.streamManagement.id, "stream management enabled inline, resumable");
    const pong = await withTimeout(first.xmpp.iqCaller.request(
      xml("iq", { type: "get", to: env.domain }, xml("ping", { xmlns: "urn:xmpp:ping" }))), "a ping", env.stepMs);
    assert.equal(pong.attrs.type, "result");
    const token = first.token();
    assert.equal(token?.mechanism, "HT-SHA-256-NONE", `a token was issued: ${JSON.stringify(token)}`);
    assert.ok(new Date(token.expiry) > new Date(), "it has not expired");

    // The link dies; a message comes meanwhile; the app reconnects and, in
    // the one <authenticate/> (with its FAST token), resumes the session
    // and gets the message.
    const received = [];
    first.xmpp.on("stanza", (el) => received.push(el));
    const alice = await login("xmpp.js/websocket", "alice");
    apps.push({ xmpp: { stop: () => alice.close() } });
    first.xmpp.socket.socket.destroy();
    await new Promise((r) => setTimeout(r, 300)); // the server notices: the session hibernates
    const tag = uniqueName("resume");
    await alice.send(xml("message", { to: jid.toString(), type: "chat" }, xml("body", {}, tag)));
    await new Promise((r) => setTimeout(r, 200));
    const resumed = new Promise((r) => first.xmpp.streamManagement.once("resumed", r));
    const sentBefore = first.sent.length;
    await withTimeout(first.xmpp.reconnect.reconnect(), "reconnection", env.loginMs);
    await withTimeout(resumed, "the inline resumption", env.stepMs);
    const again = first.sent.slice(sentBefore).filter((el) => el.is("authenticate", NS_SASL2));
    assert.equal(again.length, 1, "one authentication to come back");
    assert.equal(again[0].attrs.mechanism, "HT-SHA-256-NONE", "with the FAST token");
    assert.ok(again[0].getChild("resume", "urn:xmpp:sm:3"), "resuming inline");
    const deadline = Date.now() + env.stepMs;
    while (!received.some((el) => el.getChildText("body") === tag) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(received.some((el) => el.getChildText("body") === tag), "the message sent while away arrives after the resumption");
    await first.xmpp.stop();

    // The same app (same user-agent id) comes back with the token only: the
    // password it gives is wrong, so only FAST can let it in.
    const second = app({ pass: `wrong-${uniqueName("pw")}`, agent, token });
    apps.push(second);
    const jid2 = await withTimeout(second.xmpp.start(), "FAST login", env.loginMs);
    const fast = second.sent.filter((el) => el.is("authenticate", NS_SASL2));
    assert.equal(fast.length, 1, "one authentication");
    assert.equal(fast[0].attrs.mechanism, "HT-SHA-256-NONE", "with the token");
    assert.equal(jid2.bare().toString(), `bob@${env.domain}`);
    assert.deepEqual(second.errors, []);
  });
});
