// Roster management and presence subscription (RFC 6121 sections 2 and 3)
// between alice (xmpp.js over WebSocket) and bob (slixmpp over TCP+STARTTLS).
// The steps build on each other, so they run in order inside one suite.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { login } from "../lib/clients.js";
import { bare, isPresenceFrom, NS, xml } from "../lib/stanza.js";

function rosterItem(stanza, jid) {
  return stanza.getChild("query", NS.roster)?.getChildren("item").find((i) => i.attrs.jid === jid);
}

/** isRosterPush matches a roster push about `jid` to `session`, accepting
 * only pushes from the account itself (RFC 6121 2.1.6). */
function isRosterPush(session, jid, check = () => true) {
  return (s) =>
    s.name === "iq" &&
    s.attrs.type === "set" &&
    (!s.attrs.from || s.attrs.from === bare(session.jid)) &&
    rosterItem(s, jid) !== undefined &&
    check(rosterItem(s, jid).attrs);
}

async function rosterGet(session) {
  const reply = await session.iq(xml("iq", { type: "get" }, xml("query", { xmlns: NS.roster })));
  assert.equal(reply.attrs.type, "result", `roster get: ${reply}`);
  assert.ok(reply.getChild("query", NS.roster), `roster result has a query: ${reply}`);
  return reply;
}

async function rosterSet(session, attrs, groups = []) {
  const item = xml("item", attrs, groups.map((g) => xml("group", {}, g)));
  const reply = await session.iq(xml("iq", { type: "set" }, xml("query", { xmlns: NS.roster }, item)));
  assert.equal(reply.attrs.type, "result", `roster set: ${reply}`);
}

describe("roster and presence subscription", () => {
  let alice;
  let bob;
  let aliceJID;
  let bobJID;

  before(async () => {
    [alice, bob] = await Promise.all([
      login("xmpp.js/websocket", "alice"),
      login("slixmpp/tcp", "bob"),
    ]);
    aliceJID = bare(alice.jid);
    bobJID = bare(bob.jid);
    // Start from empty rosters even against a long-lived server.
    for (const [s, other] of [[alice, bobJID], [bob, aliceJID]]) {
      if (rosterItem(await rosterGet(s), other)) {
        const since = s.mark();
        await rosterSet(s, { jid: other, subscription: "remove" });
        await s.waitFor(isRosterPush(s, other, (a) => a.subscription === "remove"), "remove push", { since });
      }
    }
    // Both become available; the roster gets above made them interested resources.
    await Promise.all([alice.send(xml("presence")), bob.send(xml("presence"))]);
  });
  after(() => Promise.all([alice?.close(), bob?.close()]));

  it("roster set adds bob and alice gets a roster push", async () => {
    const since = alice.mark();
    await rosterSet(alice, { jid: bobJID, name: "Bob" }, ["Friends"]);
    const push = await alice.waitFor(isRosterPush(alice, bobJID), "roster push adding bob", { since });
    const item = rosterItem(push, bobJID);
    assert.equal(item.attrs.subscription ?? "none", "none");
    assert.equal(item.attrs.name, "Bob");
    assert.deepEqual(item.getChildren("group").map((g) => g.text()), ["Friends"]);
    const roster = await rosterGet(alice);
    assert.equal(rosterItem(roster, bobJID)?.attrs.name, "Bob");
  });

  it("alice subscribes: bob receives the request, alice's item shows ask=subscribe", async () => {
    const aliceSince = alice.mark();
    const bobSince = bob.mark();
    await alice.send(xml("presence", { to: bobJID, type: "subscribe" }));
    const req = await bob.waitFor(
      (s) => s.name === "presence" && s.attrs.type === "subscribe" && bare(s.attrs.from) === aliceJID,
      "subscribe from alice",
      { since: bobSince },
    );
    assert.equal(req.attrs.from, aliceJID, "subscription requests come from the bare JID (RFC 6121 3.1.2)");
    await alice.waitFor(
      isRosterPush(alice, bobJID, (a) => a.ask === "subscribe" && (a.subscription ?? "none") === "none"),
      "roster push with ask=subscribe",
      { since: aliceSince },
    );
  });

  it("bob approves: alice gets subscribed, a roster push to 'to', and bob's presence", async () => {
    const aliceSince = alice.mark();
    const bobSince = bob.mark();
    await bob.send(xml("presence", { to: aliceJID, type: "subscribed" }));
    await alice.waitFor(
      (s) => s.name === "presence" && s.attrs.type === "subscribed" && bare(s.attrs.from) === bobJID,
      "subscribed from bob",
      { since: aliceSince },
    );
    await alice.waitFor(isRosterPush(alice, bobJID, (a) => a.subscription === "to"), "roster push subscription=to", { since: aliceSince });
    await alice.waitFor(isPresenceFrom(bob.jid), "bob's available presence", { since: aliceSince });
    await bob.waitFor(isRosterPush(bob, aliceJID, (a) => a.subscription === "from"), "bob's roster push subscription=from", { since: bobSince });
  });

  it("roster get: alice has bob as 'to', bob has alice as 'from'", async () => {
    assert.equal(rosterItem(await rosterGet(alice), bobJID)?.attrs.subscription, "to");
    assert.equal(rosterItem(await rosterGet(bob), aliceJID)?.attrs.subscription, "from");
  });

  it("bob subscribes back and alice approves: both sides become 'both'", async () => {
    const aliceSince = alice.mark();
    const bobSince = bob.mark();
    await bob.send(xml("presence", { to: aliceJID, type: "subscribe" }));
    await alice.waitFor(
      (s) => s.name === "presence" && s.attrs.type === "subscribe" && bare(s.attrs.from) === bobJID,
      "subscribe from bob",
      { since: aliceSince },
    );
    await alice.send(xml("presence", { to: bobJID, type: "subscribed" }));
    await bob.waitFor(isPresenceFrom(alice.jid), "alice's available presence", { since: bobSince });
    await bob.waitFor(isRosterPush(bob, aliceJID, (a) => a.subscription === "both"), "bob's push subscription=both", { since: bobSince });
    await alice.waitFor(isRosterPush(alice, bobJID, (a) => a.subscription === "both"), "alice's push subscription=both", { since: aliceSince });
    assert.equal(rosterItem(await rosterGet(alice), bobJID)?.attrs.subscription, "both");
    assert.equal(rosterItem(await rosterGet(bob), aliceJID)?.attrs.subscription, "both");
  });

  it("bob going offline reaches alice as unavailable presence", async () => {
    const since = alice.mark();
    await bob.send(xml("presence", { type: "unavailable" }));
    await alice.waitFor(isPresenceFrom(bob.jid, "unavailable"), "bob's unavailable presence", { since });
  });
});
