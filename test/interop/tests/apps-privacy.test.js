// Blocking (XEP-0191) and client state indication (XEP-0352) with
// slixmpp's own XEP plugins (py/agent.py) and @xmpp/client; the same rows run
// against Prosody (TARGET=prosody), docs/XMPP.md has the table.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { login } from "../lib/clients.js";
import { env } from "../lib/env.js";
import { bare, uniqueName, xml } from "../lib/stanza.js";
import { available, carbon, chat, hasBody, jidOf, slix, subscribeBoth, xep, NS_CARBONS, NS_DELAY, NS_EVENT, NS_FORWARD, NS_JMI, NS_PUBSUB } from "../lib/apps.js";

describe("blocking command (XEP-0191)", () => {
  let alice;
  let carol;
  let bob;
  after(() => Promise.all([alice?.close(), carol?.close(), bob?.close()]));

  it("a blocked contact's messages are dropped", async () => {
    [alice, carol, bob] = await Promise.all([
      slix("alice", uniqueName("blocker"), ["xep_0191"]),
      login("xmpp.js/websocket", "carol"),
      login("xmpp.js/tcp", "bob"),
    ]);
    await available(alice);
    await xep(alice, "block", { jid: jidOf("carol") });
    const spam = uniqueName("spam");
    const ok = uniqueName("ok");
    await carol.send(chat(alice.jid, spam));
    await bob.send(chat(alice.jid, ok));
    await alice.waitFor(hasBody(ok), "bob's message");
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!alice.received.some(hasBody(spam)), "carol's message was delivered");
  });
});

describe("client state indication (XEP-0352)", () => {
  let alice;
  let bob;
  after(() => Promise.all([alice?.close(), bob?.close()]));

  it("while inactive, chat states wait; a message with a body goes through", async () => {
    [alice, bob] = await Promise.all([slix("alice", uniqueName("csi"), ["xep_0352"]), login("xmpp.js/websocket", "bob")]);
    await available(alice);
    await xep(alice, "csi", { state: "inactive" });
    await new Promise((r) => setTimeout(r, 200));
    const since = alice.mark();
    await bob.send(xml("message", { to: alice.jid, type: "chat" }, xml("composing", { xmlns: "http://jabber.org/protocol/chatstates" })));
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(alice.received.slice(since).filter((s) => s.name === "message").length, 0, "the chat state waited");
    const body = uniqueName("wake");
    await bob.send(chat(alice.jid, body));
    await alice.waitFor(hasBody(body), "the message with a body");
  });
});
