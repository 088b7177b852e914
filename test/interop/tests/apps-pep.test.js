// PEP (XEP-0163 over XEP-0060): OMEMO keys with open access, avatars (XEP-0084)
// notified through caps +notify (XEP-0115), with
// slixmpp's own XEP plugins (py/agent.py) and @xmpp/client; the same rows run
// against Prosody (TARGET=prosody), docs/XMPP.md has the table.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { login } from "../lib/clients.js";
import { env } from "../lib/env.js";
import { bare, uniqueName, xml } from "../lib/stanza.js";
import { available, carbon, chat, hasBody, jidOf, slix, subscribeBoth, forget, xep, NS_CARBONS, NS_DELAY, NS_EVENT, NS_FORWARD, NS_JMI, NS_PUBSUB } from "../lib/apps.js";

const OMEMO = "eu.siacs.conversations.axolotl";

describe("PEP: OMEMO device list and bundle with open access (XEP-0163, XEP-0060)", () => {
  let alice;
  let carol;
  after(() => Promise.all([alice?.close(), carol?.close()]));

  it("published with access_model open, fetched by another account", async () => {
    [alice, carol] = await Promise.all([slix("alice", uniqueName("omemo"), ["xep_0060"]), login("xmpp.js/websocket", "carol")]);
    const device = String(1000 + Math.floor(Math.random() * 1e6));
    const open = { "pubsub#access_model": "open" };
    await xep(alice, "publish", {
      node: `${OMEMO}.devicelist`, id: "current", options: open,
      payload: `<list xmlns="${OMEMO}"><device id="${device}"/></list>`,
    });
    await xep(alice, "publish", {
      node: `${OMEMO}.bundles:${device}`, id: "current", options: { ...open, "pubsub#max_items": "1" },
      payload: `<bundle xmlns="${OMEMO}"><signedPreKeyPublic signedPreKeyId="1">BQ==</signedPreKeyPublic><identityKey>BQ==</identityKey><prekeys><preKeyPublic preKeyId="1">BQ==</preKeyPublic></prekeys></bundle>`,
    });
    const items = async (node) => {
      const res = await carol.iq(xml("iq", { type: "get", to: jidOf("alice") },
        xml("pubsub", { xmlns: NS_PUBSUB }, xml("items", { node }))));
      assert.equal(res.attrs.type, "result", `items of ${node}: ${res}`);
      return res.getChild("pubsub", NS_PUBSUB).getChild("items").getChildren("item");
    };
    const list = await items(`${OMEMO}.devicelist`);
    assert.equal(list.length, 1);
    assert.equal(list[0].getChild("list", OMEMO).getChild("device").attrs.id, device);
    const bundle = await items(`${OMEMO}.bundles:${device}`);
    assert.equal(bundle[0].getChild("bundle", OMEMO).getChildText("identityKey"), "BQ==");
  });
});

describe("user avatar (XEP-0084) notification through caps +notify (XEP-0115)", () => {
  let alice;
  let bob;
  after(() => Promise.all([alice?.close(), bob?.close()]));

  it("an avatar published reaches a contact whose caps carry +notify", async () => {
    alice = await slix("alice", uniqueName("avatar"), ["xep_0084"]);
    bob = await slix("bob", uniqueName("viewer"), ["xep_0084", "xep_0115"]);
    const since = bob.mark();
    // bob's presence carries his caps (slixmpp's XEP-0115 plugin adds them).
    await Promise.all([available(alice), available(bob)]);
    await subscribeBoth(alice, bob);
    await xep(bob, "caps_presence");
    // The server learns bob's caps (it asks his disco#info) before notifying.
    await new Promise((r) => setTimeout(r, 500));
    const id = uniqueName("avatar");
    const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex").toString("base64");
    await xep(alice, "avatar_publish", { data: png, id });
    const ev = await bob.waitFor((s) => {
      const items = s.getChild("event", NS_EVENT)?.getChild("items");
      return items?.attrs.node === "urn:xmpp:avatar:metadata" && items.getChild("item")?.attrs.id === id;
    }, "the avatar metadata notification", { since });
    assert.equal(bare(ev.attrs.from), jidOf("alice"));
    await forget(alice, bob);
  });
});

