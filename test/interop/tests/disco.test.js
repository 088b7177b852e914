// Service discovery (XEP-0030) of the server and the MUC service, XEP-0199
// ping, and RFC 6120 IQ semantics: an IQ in a namespace nobody handles gets a
// service-unavailable error, never silence.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { env } from "../lib/env.js";
import { login } from "../lib/clients.js";
import { bare, discoFeatures, NS, stanzaError, xml } from "../lib/stanza.js";

function query(ns) {
  return xml("query", { xmlns: ns });
}

function iqGet(to, child) {
  return xml("iq", { type: "get", to }, child);
}

function resultQuery(reply, ns) {
  assert.equal(reply.attrs.type, "result", `expected a result: ${reply}`);
  const q = reply.getChild("query", ns);
  assert.ok(q, `result carries <query xmlns='${ns}'/>: ${reply}`);
  return q;
}

function assertServiceUnavailable(reply) {
  assert.equal(reply.attrs.type, "error", `expected an error: ${reply}`);
  const err = stanzaError(reply);
  assert.equal(err?.condition, "service-unavailable", `error condition in ${reply}`);
  assert.equal(err.type, "cancel", `service-unavailable is type cancel (RFC 6120 8.3.3.19)`);
}

// Each client library runs the same raw-stanza checks.
for (const client of ["xmpp.js/websocket", "slixmpp/tcp", "strophe.js/websocket"]) {
  describe(`disco, ping and IQ errors with ${client}`, () => {
    let s;
    before(async () => {
      s = await login(client, "bob");
    });
    after(() => s?.close());

    it("disco#info of the server domain: identity server/im and core features", async () => {
      const q = resultQuery(await s.iq(iqGet(env.domain, query(NS.discoInfo))), NS.discoInfo);
      const ids = q.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`);
      assert.ok(ids.includes("server/im"), `identities ${ids}`);
      const features = discoFeatures(q);
      for (const f of [NS.discoInfo, NS.discoItems, NS.ping]) {
        assert.ok(features.includes(f), `feature ${f} in ${features}`);
      }
    });

    it("disco#items of the server domain lists the MUC service", async () => {
      const q = resultQuery(await s.iq(iqGet(env.domain, query(NS.discoItems))), NS.discoItems);
      const jids = q.getChildren("item").map((i) => i.attrs.jid);
      assert.ok(jids.includes(env.mucDomain), `items ${jids} include ${env.mucDomain}`);
    });

    it("disco#info of the MUC service: identity conference/text and the muc feature", async () => {
      const q = resultQuery(await s.iq(iqGet(env.mucDomain, query(NS.discoInfo))), NS.discoInfo);
      const ids = q.getChildren("identity").map((i) => `${i.attrs.category}/${i.attrs.type}`);
      assert.ok(ids.includes("conference/text"), `identities ${ids}`);
      assert.ok(discoFeatures(q).includes(NS.muc), `features ${discoFeatures(q)}`);
    });

    it("XEP-0199 ping to the server gets an empty result", async () => {
      const reply = await s.iq(iqGet(env.domain, xml("ping", { xmlns: NS.ping })));
      assert.equal(reply.attrs.type, "result", `ping reply ${reply}`);
      assert.equal(reply.attrs.from ?? env.domain, env.domain);
    });

    it("IQ get in an unknown namespace to the server: service-unavailable", async () => {
      assertServiceUnavailable(await s.iq(iqGet(env.domain, query("urn:example:interop:unknown"))));
    });

    it("IQ set in an unknown namespace to the server: service-unavailable", async () => {
      const iq = xml("iq", { type: "set", to: env.domain }, query("urn:example:interop:unknown"));
      assertServiceUnavailable(await s.iq(iq));
    });

    it("IQ in an unknown namespace to the own bare JID: the server answers service-unavailable", async () => {
      assertServiceUnavailable(await s.iq(iqGet(bare(s.jid), query("urn:example:interop:unknown"))));
    });
  });
}

describe("slixmpp's own XEP-0030/XEP-0199 plugins", () => {
  let s;
  before(async () => {
    s = await login("slixmpp/tcp", "carol", { mechanism: "PLAIN" });
  });
  after(() => s?.close());

  it("parses disco#info of the server and of the MUC service", async () => {
    const server = await s.plugin("disco_info", env.domain);
    assert.equal(server.ok, true, JSON.stringify(server));
    assert.ok(server.identities.some(([cat, type]) => cat === "server" && type === "im"));
    assert.ok(server.features.includes(NS.discoInfo));
    const muc = await s.plugin("disco_info", env.mucDomain);
    assert.equal(muc.ok, true, JSON.stringify(muc));
    assert.ok(muc.identities.some(([cat, type]) => cat === "conference" && type === "text"));
    assert.ok(muc.features.includes(NS.muc));
  });

  it("parses disco#items of the server", async () => {
    const items = await s.plugin("disco_items", env.domain);
    assert.equal(items.ok, true, JSON.stringify(items));
    assert.ok(items.items.includes(env.mucDomain), JSON.stringify(items));
  });

  it("pings the server", async () => {
    const ping = await s.plugin("ping", env.domain);
    assert.equal(ping.ok, true, JSON.stringify(ping));
  });
});
