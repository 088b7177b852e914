// Several devices: carbons (XEP-0280) and call proposals (XEP-0353) with
// slixmpp's own XEP plugins (py/agent.py) and @xmpp/client; the same rows run
// against Prosody (TARGET=prosody), docs/XMPP.md has the table.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { login } from "../lib/clients.js";
import { env } from "../lib/env.js";
import { bare, uniqueName, xml } from "../lib/stanza.js";
import { available, carbon, chat, hasBody, jidOf, slix, subscribeBoth, xep, NS_CARBONS, NS_DELAY, NS_EVENT, NS_FORWARD, NS_JMI, NS_PUBSUB } from "../lib/apps.js";

describe("message carbons (XEP-0280)", () => {
  let phone;
  let desk;
  let bob;
  before(async () => {
    // One at a time: slixmpp's start-up is heavy on a busy machine.
    phone = await slix("alice", "phone", ["xep_0280"]);
    desk = await slix("alice", "desk", ["xep_0280"]);
    bob = await login("xmpp.js/websocket", "bob");
    await Promise.all([xep(phone, "carbons_enable"), xep(desk, "carbons_enable")]);
    await Promise.all([available(phone), available(desk), available(bob)]);
  });
  after(() => Promise.all([phone?.close(), desk?.close(), bob?.close()]));

  it("a message to one resource reaches the other as a received carbon", async () => {
    const body = uniqueName("to-phone");
    const since = desk.mark();
    await bob.send(chat(phone.jid, body));
    await phone.waitFor(hasBody(body), "the message on the phone");
    const cc = await desk.waitFor((s) => carbon(s, "received")?.getChildText("body") === body, "received carbon", { since });
    assert.equal(cc.attrs.from, jidOf("alice"));
  });

  it("a message sent from one resource reaches the other as a sent carbon", async () => {
    const body = uniqueName("from-desk");
    const since = phone.mark();
    await desk.send(chat(jidOf("bob"), body));
    await bob.waitFor(hasBody(body), "bob gets it");
    await phone.waitFor((s) => carbon(s, "sent")?.getChildText("body") === body, "sent carbon", { since });
  });
});

describe("Jingle Message Initiation (XEP-0353)", () => {
  let phone;
  let desk;
  let bob;
  before(async () => {
    phone = await slix("alice", "jmi-phone", ["xep_0280", "xep_0353"]);
    desk = await slix("alice", "jmi-desk", ["xep_0280", "xep_0353"]);
    bob = await login("xmpp.js/websocket", "bob");
    await Promise.all([xep(phone, "carbons_enable"), xep(desk, "carbons_enable")]);
    await Promise.all([available(phone), available(desk), available(bob)]);
  });
  after(() => Promise.all([phone?.close(), desk?.close(), bob?.close()]));

  it("a propose reaches both devices; a proceed from one stops the ring on the other", async () => {
    const sid = uniqueName("call");
    const isPropose = (s) => s.name === "message" && s.getChild("propose", NS_JMI)?.attrs.id === sid;
    const [ps, ds] = [phone.mark(), desk.mark()];
    await bob.send(xml("message", { to: jidOf("alice"), type: "chat", id: sid },
      xml("propose", { xmlns: NS_JMI, id: sid }, xml("description", { xmlns: "urn:xmpp:jingle:apps:rtp:1", media: "audio" })),
      xml("store", { xmlns: "urn:xmpp:hints" })));
    await Promise.all([
      phone.waitFor(isPropose, "propose on the phone", { since: ps }),
      desk.waitFor(isPropose, "propose on the desk", { since: ds }),
    ]);
    const dsince = desk.mark();
    await xep(phone, "jmi_proceed", { to: bob.jid, sid });
    await bob.waitFor((s) => s.getChild("proceed", NS_JMI)?.attrs.id === sid, "bob gets proceed");
    await desk.waitFor((s) => carbon(s, "sent")?.getChild("proceed", NS_JMI)?.attrs.id === sid,
      "the desk sees the phone's proceed and stops ringing", { since: dsince });
  });
});

