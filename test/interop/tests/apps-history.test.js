// Offline messages (XEP-0160) and the message archive (XEP-0313, RSM) with
// slixmpp's own XEP plugins (py/agent.py) and @xmpp/client; the same rows run
// against Prosody (TARGET=prosody), docs/XMPP.md has the table.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { login } from "../lib/clients.js";
import { env } from "../lib/env.js";
import { bare, uniqueName, xml } from "../lib/stanza.js";
import { available, carbon, chat, hasBody, jidOf, slix, subscribeBoth, xep, NS_CARBONS, NS_DELAY, NS_EVENT, NS_FORWARD, NS_JMI, NS_PUBSUB } from "../lib/apps.js";

describe("offline messages (XEP-0160)", () => {
  let carol;
  let bob;
  after(() => Promise.all([carol?.close(), bob?.close()]));
  it("a message to an offline user arrives, with a delay, at the next login", async () => {
    carol = await login("xmpp.js/websocket", "carol");
    const body = uniqueName("while-you-slept");
    await carol.send(chat(jidOf("bob"), body));
    // A ping round trip: the message was handled before bob logs in.
    await carol.iq(xml("iq", { type: "get", to: env.domain }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    bob = await slix("bob", uniqueName("phone"), []);
    await bob.send(xml("presence"));
    const m = await bob.waitFor(hasBody(body), "the offline message");
    assert.equal(bare(m.attrs.from), jidOf("carol"));
    assert.ok(m.getChild("delay", NS_DELAY), `no delay: ${m}`);
  });
});

describe("message archive (XEP-0313) with RSM paging (XEP-0059)", () => {
  let alice;
  let carol;
  after(() => Promise.all([alice?.close(), carol?.close()]));

  it("MAM queries page through 500 messages, filtered by contact and date", async () => {
    [alice, carol] = await Promise.all([slix("alice", uniqueName("archive"), ["xep_0313"]), login("xmpp.js/websocket", "carol")]);
    await available(alice);
    const start = new Date(Date.now() - 1000).toISOString();
    const tag = uniqueName("mam");
    const n = 500;
    for (let i = 0; i < n; i++) await carol.send(chat(jidOf("alice"), `${tag}-${i}`));
    await alice.waitFor(hasBody(`${tag}-${n - 1}`), "the last message", { timeout: 4 * env.stepMs });
    const r = await xep(alice, "mam_iterate", { with: jidOf("carol"), start, max: 100 }, 6 * env.stepMs);
    const mine = r.bodies.filter((b) => b?.startsWith(tag));
    assert.equal(mine.length, n, `paged ${r.bodies.length} messages, ${mine.length} of this run`);
    assert.deepEqual(mine, Array.from({ length: n }, (_, i) => `${tag}-${i}`), "in order, each once");
    assert.equal(new Set(r.ids).size, r.ids.length, "archive ids are unique");
  });
});

