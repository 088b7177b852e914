// Multi-user chat (XEP-0045) with three different client libraries:
// alice (xmpp.js over WebSocket) owns the rooms, bob (strophe.js over
// WebSocket) and carol (slixmpp over TCP+STARTTLS) join. Steps build on each
// other, so each room's scenario runs in order inside one suite.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { deviationAllowed, env } from "../lib/env.js";
import { login } from "../lib/clients.js";
import {
  bare,
  isPresenceFrom,
  mucItem,
  mucStatuses,
  NS,
  stanzaError,
  submitForm,
  uniqueName,
  xml,
} from "../lib/stanza.js";

function roomJID(prefix) {
  return `${uniqueName(prefix)}@${env.mucDomain}`;
}

function isSelfPresence(occupantJID) {
  return (s) => isPresenceFrom(occupantJID)(s) && mucStatuses(s).includes(110);
}

/** join sends MUC join presence and resolves with the self-presence (or the
 * error presence, when expectError is set). */
async function join(session, room, nick, { password, expectError = false } = {}) {
  const occupant = `${room}/${nick}`;
  const since = session.mark();
  const x = xml("x", { xmlns: NS.muc }, password === undefined ? [] : [xml("password", {}, password)]);
  await session.send(xml("presence", { to: occupant }, x));
  if (expectError) {
    return session.waitFor(isPresenceFrom(occupant, "error"), `error presence from ${occupant}`, { since });
  }
  const self = await session.waitFor(
    (s) => isSelfPresence(occupant)(s) || isPresenceFrom(occupant, "error")(s),
    `self-presence from ${occupant}`,
    { since },
  );
  assert.equal(self.attrs.type, undefined, `joining ${occupant} failed: ${self}`);
  return { self, since };
}

async function ownerIQ(session, room, type, form) {
  const query = xml("query", { xmlns: NS.mucOwner }, form ? [form] : []);
  return session.iq(xml("iq", { type, to: room }, query));
}

/** createInstantRoom joins as the first occupant and accepts the default
 * configuration (XEP-0045 10.1.2). */
async function createInstantRoom(session, room, nick) {
  const { self } = await join(session, room, nick);
  const codes = mucStatuses(self);
  assert.ok(codes.includes(201), `room creation self-presence carries status 201: ${self}`);
  assert.deepEqual(
    { affiliation: mucItem(self)?.affiliation, role: mucItem(self)?.role },
    { affiliation: "owner", role: "moderator" },
  );
  const reply = await ownerIQ(session, room, "set", xml("x", { xmlns: NS.data, type: "submit" }));
  assert.equal(reply.attrs.type, "result", `instant room config: ${reply}`);
}

/** isSubject matches the subject message a joining occupant gets: from the
 * room (or the occupant who set it), a <subject/>, no <body/> (7.2.15). */
function isSubject(room) {
  return (s) =>
    s.name === "message" &&
    bare(s.attrs.from) === room &&
    s.attrs.type === "groupchat" &&
    s.getChild("subject") !== undefined &&
    s.getChild("body") === undefined;
}

describe("MUC: create, join, groupchat, kick", () => {
  const room = roomJID("interop-room");
  let alice;
  let bob;
  let carol;

  before(async () => {
    [alice, bob, carol] = await Promise.all([
      login("xmpp.js/websocket", "alice"),
      login("strophe.js/websocket", "bob", { mechanism: "PLAIN" }),
      login("slixmpp/tcp", "carol"),
    ]);
  });
  after(() => Promise.all([alice?.close(), bob?.close(), carol?.close()]));

  it("alice creates the room (201, owner/moderator) and submits an instant configuration", async () => {
    await createInstantRoom(alice, room, "Alice");
  });

  it("bob joins: existing occupants first, then his self-presence (110), then the subject", async () => {
    const aliceSince = alice.mark();
    const { self, since } = await join(bob, room, "Bob");
    assert.deepEqual(
      { affiliation: mucItem(self)?.affiliation, role: mucItem(self)?.role },
      { affiliation: "none", role: "participant" },
    );
    const selfIndex = bob.received.indexOf(self);
    const aliceIndex = bob.received.findIndex((s, i) => i >= since && isPresenceFrom(`${room}/Alice`)(s));
    assert.ok(aliceIndex >= 0 && aliceIndex < selfIndex, "Alice's presence arrives before bob's own (XEP-0045 7.2.2)");
    const subject = await bob.waitFor(isSubject(room), "the room subject", { since });
    assert.ok(bob.received.indexOf(subject) > selfIndex, "the subject follows the self-presence (7.2.15)");
    await alice.waitFor(isPresenceFrom(`${room}/Bob`), "Bob's presence at alice", { since: aliceSince });
  });

  it("carol joins and everyone sees everyone", async () => {
    const aliceSince = alice.mark();
    const bobSince = bob.mark();
    const { since } = await join(carol, room, "Carol");
    for (const nick of ["Alice", "Bob"]) {
      await carol.waitFor(isPresenceFrom(`${room}/${nick}`), `${nick}'s presence at carol`, { since });
    }
    await carol.waitFor(isSubject(room), "the room subject at carol", { since });
    await alice.waitFor(isPresenceFrom(`${room}/Carol`), "Carol's presence at alice", { since: aliceSince });
    await bob.waitFor(isPresenceFrom(`${room}/Carol`), "Carol's presence at bob", { since: bobSince });
  });

  for (const [sender, nick] of [["alice", "Alice"], ["carol", "Carol"]]) {
    it(`a groupchat message from ${nick} reaches all three occupants`, async () => {
      const sessions = { alice, bob, carol };
      const marks = Object.fromEntries(Object.entries(sessions).map(([k, s]) => [k, s.mark()]));
      const body = `hello from ${nick} ${uniqueName("msg")}`;
      await sessions[sender].send(xml("message", { to: room, type: "groupchat" }, xml("body", {}, body)));
      for (const [name, s] of Object.entries(sessions)) {
        await s.waitFor(
          (m) =>
            m.name === "message" &&
            m.attrs.type === "groupchat" &&
            m.attrs.from === `${room}/${nick}` &&
            m.getChildText("body") === body,
          `${nick}'s message at ${name}`,
          { since: marks[name] },
        );
      }
    });
  }

  it("bob (participant) may not kick carol: forbidden", async () => {
    const kick = xml("iq", { type: "set", to: room },
      xml("query", { xmlns: NS.mucAdmin }, xml("item", { nick: "Carol", role: "none" })));
    const reply = await bob.iq(kick);
    assert.equal(reply.attrs.type, "error", `a participant's kick must fail: ${reply}`);
    const err = stanzaError(reply);
    // XEP-0045 section 8: admin requests from a non-moderator MUST get <forbidden/>.
    const accepted = ["forbidden"];
    if (deviationAllowed("muc-kick-by-participant-not-allowed")) accepted.push("not-allowed");
    assert.ok(accepted.includes(err?.condition), `condition ${err?.condition} (want ${accepted.join(" or ")}) in ${reply}`);
  });

  it("alice (moderator) kicks carol: 307 to carol (with 110) and to the others", async () => {
    const marks = { alice: alice.mark(), bob: bob.mark(), carol: carol.mark() };
    const kick = xml("iq", { type: "set", to: room },
      xml("query", { xmlns: NS.mucAdmin },
        xml("item", { nick: "Carol", role: "none" }, xml("reason", {}, "interop test"))));
    const reply = await alice.iq(kick);
    assert.equal(reply.attrs.type, "result", `kick: ${reply}`);
    const gone = isPresenceFrom(`${room}/Carol`, "unavailable");
    const own = await carol.waitFor(gone, "carol's own kick presence", { since: marks.carol });
    assert.ok(mucStatuses(own).includes(307), `status 307 in ${own}`);
    assert.ok(mucStatuses(own).includes(110), `status 110 in ${own}`);
    assert.equal(mucItem(own)?.role, "none");
    for (const [name, s] of [["alice", alice], ["bob", bob]]) {
      const p = await s.waitFor(gone, `carol's kick presence at ${name}`, { since: marks[name] });
      assert.ok(mucStatuses(p).includes(307), `status 307 at ${name}: ${p}`);
    }
  });
});

describe("MUC: password-protected room", () => {
  const room = roomJID("interop-secret");
  const secret = "open sesame";
  let alice;
  let bob;
  let carol;

  before(async () => {
    [alice, bob, carol] = await Promise.all([
      login("xmpp.js/websocket", "alice"),
      login("strophe.js/websocket", "bob"),
      login("slixmpp/tcp", "carol", { mechanism: "PLAIN" }),
    ]);
  });
  after(() => Promise.all([alice?.close(), bob?.close(), carol?.close()]));

  it("alice creates the room and sets a password through the owner form", async () => {
    const { self } = await join(alice, room, "Alice");
    assert.ok(mucStatuses(self).includes(201), `status 201 in ${self}`);
    const formReply = await ownerIQ(alice, room, "get");
    assert.equal(formReply.attrs.type, "result", `config form: ${formReply}`);
    const form = formReply.getChild("query", NS.mucOwner)?.getChild("x", NS.data);
    assert.ok(form, `config form in ${formReply}`);
    const vars = form.getChildren("field").map((f) => f.attrs.var);
    assert.ok(vars.includes("muc#roomconfig_roomsecret"), `fields ${vars}`);
    const submit = submitForm({
      FORM_TYPE: "http://jabber.org/protocol/muc#roomconfig",
      "muc#roomconfig_passwordprotectedroom": 1,
      "muc#roomconfig_roomsecret": secret,
    });
    const reply = await ownerIQ(alice, room, "set", submit);
    assert.equal(reply.attrs.type, "result", `config submit: ${reply}`);
  });

  it("joining without the password fails with not-authorized", async () => {
    const err = await join(bob, room, "Bob", { expectError: true });
    assert.deepEqual(
      { type: stanzaError(err)?.type, condition: stanzaError(err)?.condition },
      { type: "auth", condition: "not-authorized" },
      `error presence ${err}`,
    );
  });

  it("joining with a wrong password fails with not-authorized", async () => {
    const err = await join(carol, room, "Carol", { password: "not it", expectError: true });
    assert.equal(stanzaError(err)?.condition, "not-authorized", `error presence ${err}`);
  });

  it("joining with the right password works", async () => {
    const aliceSince = alice.mark();
    await join(bob, room, "Bob", { password: secret });
    await join(carol, room, "Carol", { password: secret });
    for (const nick of ["Bob", "Carol"]) {
      await alice.waitFor(isPresenceFrom(`${room}/${nick}`), `${nick}'s presence at alice`, { since: aliceSince });
    }
  });
});
