// Stream management (XEP-0198): a cut connection resumed, with
// slixmpp's own XEP plugins (py/agent.py) and @xmpp/client; the same rows run
// against Prosody (TARGET=prosody), docs/XMPP.md has the table.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { login } from "../lib/clients.js";
import { env } from "../lib/env.js";
import { bare, uniqueName, xml } from "../lib/stanza.js";
import { available, carbon, chat, hasBody, jidOf, slix, subscribeBoth, xep, NS_CARBONS, NS_DELAY, NS_EVENT, NS_FORWARD, NS_JMI, NS_PUBSUB } from "../lib/apps.js";
import net from "node:net";

/** cutProxy forwards TCP to the server; freeze() holds what the server
 * sends, cut() drops every connection (and what was held) at once. */
function cutProxy() {
  const conns = new Set();
  let frozen = false;
  let held = "";
  const server = net.createServer((client) => {
    const upstream = net.connect(env.tcpPort, env.tcpHost);
    const pair = { client, upstream };
    conns.add(pair);
    client.on("data", (d) => upstream.write(d));
    upstream.on("data", (d) => {
      if (frozen) held += d.toString("latin1");
      else client.write(d);
    });
    const end = () => { client.destroy(); upstream.destroy(); conns.delete(pair); };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  return {
    listen: () => new Promise((r) => server.listen(0, "127.0.0.1", () => r(server.address().port))),
    freeze() { frozen = true; held = ""; },
    held: () => held,
    cut() {
      for (const { client, upstream } of conns) {
        client.resetAndDestroy?.() ?? client.destroy();
        upstream.destroy();
      }
      conns.clear();
      frozen = false;
    },
    close: () => server.close(),
  };
}

describe("stream management (XEP-0198)", () => {
  let alice;
  let bob;
  let proxy;
  after(() => { proxy?.close(); return Promise.all([alice?.close(), bob?.close()]); });

  it("a TCP connection cut with un-acked stanzas is resumed: nothing lost, nothing doubled", async () => {
    proxy = cutProxy();
    const port = await proxy.listen();
    alice = await slix("alice", uniqueName("mobile"), ["xep_0198"], { port, reconnect: true });
    bob = await login("xmpp.js/websocket", "bob");
    await available(alice);
    const deadline = Date.now() + env.stepMs;
    while (!alice.smEnabled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(alice.smEnabled, "slixmpp enabled stream management");
    const tag = uniqueName("sm");
    const bodies = [1, 2, 3, 4].map((i) => `${tag}-${i}`);
    await bob.send(chat(alice.jid, bodies[0]));
    await alice.waitFor(hasBody(bodies[0]), "m1 before the cut");
    // The server writes m2 and m3, the client never sees them.
    proxy.freeze();
    await bob.send(chat(alice.jid, bodies[1]));
    await bob.send(chat(alice.jid, bodies[2]));
    // The link is TLS: wait for the server's bytes, then a little more.
    const until = Date.now() + env.stepMs;
    while (proxy.held().length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.ok(proxy.held().length > 0, "the server wrote into the frozen link");
    await new Promise((r) => setTimeout(r, 300));
    proxy.cut();
    // m4 is routed while the session waits for its client.
    await bob.send(chat(alice.jid, bodies[3]));
    await alice.waitFor(hasBody(bodies[3]), "m4 after the resumption", { timeout: 3 * env.stepMs });
    await new Promise((r) => setTimeout(r, 500)); // room for a duplicate to show up
    const got = alice.received.filter((s) => s.name === "message" && s.getChildText("body")?.startsWith(tag))
      .map((s) => s.getChildText("body"));
    assert.deepEqual(got, bodies, "each message exactly once, in order");
    assert.equal(alice.resumed, 1, "slixmpp resumed the session");
    const errors = bob.received.filter((s) => s.name === "message" && s.attrs.type === "error");
    assert.equal(errors.length, 0, `no bounce to the sender: ${errors.join("\n")}`);
  });
});

