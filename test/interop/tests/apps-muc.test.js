// MAM for MUC rooms (XEP-0313 §6) and MUC self-ping (XEP-0410): xmpp.js
// talks in a room, slixmpp's xep_0313 pages through the room's archive;
// the same rows run against Prosody's mod_muc_mam (TARGET=prosody).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { login } from "../lib/clients.js";
import { env } from "../lib/env.js";
import { uniqueName, xml } from "../lib/stanza.js";
import { slix, xep } from "../lib/apps.js";

const NS_MUC = "http://jabber.org/protocol/muc";

async function join(session, occupant) {
  const since = session.mark();
  await session.send(xml("presence", { to: occupant }, xml("x", { xmlns: NS_MUC })));
  const self = await session.waitFor((s) => s.name === "presence" && s.attrs.from === occupant, `joining ${occupant}`, { since });
  assert.equal(self.attrs.type, undefined, `join: ${self}`);
}

describe("MUC archive (XEP-0313) and self-ping (XEP-0410)", () => {
  let alice;
  let bob;
  after(() => Promise.all([alice?.close(), bob?.close()]));

  it("an occupant pages through the room's archive", async () => {
    alice = await login("xmpp.js/websocket", "alice");
    const room = `${uniqueName("archive")}@${env.mucDomain}`;
    await join(alice, `${room}/Alice`);
    const cfg = await alice.iq(xml("iq", { type: "set", to: room },
      xml("query", { xmlns: "http://jabber.org/protocol/muc#owner" }, xml("x", { xmlns: "jabber:x:data", type: "submit" }))));
    assert.equal(cfg.attrs.type, "result", `instant room: ${cfg}`);
    const tag = uniqueName("r");
    for (let i = 0; i < 25; i++) {
      await alice.send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, `${tag}-${i}`)));
    }
    await alice.waitFor((s) => s.getChildText?.("body") === `${tag}-24`, "the last reflection");
    bob = await slix("bob", uniqueName("reader"), ["xep_0313"]);
    await join(bob, `${room}/Bob`);
    const r = await xep(bob, "mam_iterate", { jid: room, max: 10 }, 4 * env.stepMs);
    const mine = r.bodies.filter((b) => b?.startsWith(tag));
    assert.deepEqual(mine, Array.from({ length: 25 }, (_, i) => `${tag}-${i}`));
  });

  it("a self-ping of a joined occupant is answered; after leaving it is not", async () => {
    const rooms = alice.received.filter((s) => s.name === "presence" && s.attrs.from?.endsWith("/Alice"));
    const occupant = rooms[rooms.length - 1].attrs.from;
    const ping = () => alice.iq(xml("iq", { type: "get", to: occupant }, xml("ping", { xmlns: "urn:xmpp:ping" })));
    const ok = await ping();
    assert.equal(ok.attrs.type, "result", `self-ping: ${ok}`);
    const since = alice.mark();
    await alice.send(xml("presence", { to: occupant, type: "unavailable" }));
    await alice.waitFor((s) => s.name === "presence" && s.attrs.from === occupant && s.attrs.type === "unavailable", "left", { since });
    const gone = await ping();
    assert.equal(gone.attrs.type, "error", `self-ping after leaving: ${gone}`);
  });
});
