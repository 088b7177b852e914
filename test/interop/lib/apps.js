// Helpers of the apps-*.test.js files: what XMPP apps need from their server,
// exercised with slixmpp's own XEP plugins and @xmpp/client.
import assert from "node:assert/strict";
import { loginSlixmpp } from "./slixmpp.js";
import { env, password } from "./env.js";
import { bare, uniqueName, xml } from "./stanza.js";

export const NS_DELAY = "urn:xmpp:delay";
export const NS_CARBONS = "urn:xmpp:carbons:2";
export const NS_FORWARD = "urn:xmpp:forward:0";
export const NS_JMI = "urn:xmpp:jingle-message:0";
export const NS_EVENT = "http://jabber.org/protocol/pubsub#event";
export const NS_PUBSUB = "http://jabber.org/protocol/pubsub";

export const jidOf = (user) => `${user}@${env.domain}`;

export function slix(user, resource, plugins, extra = {}) {
  return loginSlixmpp({ mechanism: "SCRAM-SHA-1", user, password: password(user), resource, plugins, ...extra });
}

export async function xep(session, call, args, timeout) {
  const r = await session.xep(call, args, timeout);
  assert.ok(r.ok, `slixmpp ${call}: ${JSON.stringify(r)}`);
  return r;
}

export function chat(to, body, type = "chat") {
  return xml("message", { to, type, id: uniqueName("m") }, xml("body", {}, body));
}

export const hasBody = (body) => (s) => s.name === "message" && s.getChildText("body") === body;

/** available sends initial presence and waits for its reflection. */
export async function available(session) {
  const since = session.mark();
  await session.send(xml("presence"));
  await session.waitFor((s) => s.name === "presence" && s.attrs.from === session.jid, "own presence", { since });
}

export function carbon(s, kind) {
  return s.name === "message" ? s.getChild(kind, NS_CARBONS)?.getChild("forwarded", NS_FORWARD)?.getChild("message") : undefined;
}

/** subscribeBoth makes a and b contacts with subscription both. */
export async function subscribeBoth(a, b) {
  for (const [x, y] of [[a, b], [b, a]]) {
    const since = y.mark();
    await x.send(xml("presence", { to: bare(y.jid), type: "subscribe" }));
    await y.waitFor((s) => s.name === "presence" && s.attrs.type === "subscribe" && bare(s.attrs.from) === bare(x.jid), "subscribe request", { since });
    await y.send(xml("presence", { to: bare(x.jid), type: "subscribed" }));
  }
  const deadline = Date.now() + env.stepMs;
  for (;;) {
    const res = await a.iq(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" })));
    const item = res.getChild("query").getChildren("item").find((i) => i.attrs.jid === bare(b.jid));
    if (item?.attrs.subscription === "both") return;
    assert.ok(Date.now() < deadline, `subscription both: ${res}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


/** forget removes b from a's roster and a from b's (undoing subscribeBoth,
 * so that later files start from empty rosters). */
export async function forget(a, b) {
  for (const [x, y] of [[a, b], [b, a]]) {
    await x.iq(xml("iq", { type: "set" }, xml("query", { xmlns: "jabber:iq:roster" },
      xml("item", { jid: bare(y.jid), subscription: "remove" }))));
  }
}
