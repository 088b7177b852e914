// Logins with every SASL mechanism over WebSocket (RFC 7395) and TCP with
// STARTTLS, each forced explicitly, and refused credentials (RFC 6120 6.5).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { env } from "../lib/env.js";
import { login, LoginError } from "../lib/clients.js";
import { bare, xml, NS } from "../lib/stanza.js";

// Which client libraries implement which mechanisms: xmpp.js has no
// SCRAM-SHA-256, so WebSocket SCRAM-SHA-256 is covered by strophe.js.
const MATRIX = {
  "xmpp.js/websocket": ["SCRAM-SHA-1", "PLAIN", "ANONYMOUS"],
  "strophe.js/websocket": ["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN", "ANONYMOUS"],
  "xmpp.js/tcp": ["SCRAM-SHA-1", "PLAIN", "ANONYMOUS"],
  "slixmpp/tcp": ["SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN", "ANONYMOUS"],
};

function domainFor(mechanism) {
  if (mechanism === "ANONYMOUS") return env.anonDomain;
  if (mechanism === "SCRAM-SHA-256") return env.scram256Domain;
  return env.domain;
}

async function assertUsable(session) {
  const reply = await session.iq(
    xml("iq", { type: "get", to: env.domain }, xml("ping", { xmlns: NS.ping })),
  );
  assert.equal(reply.attrs.type, "result", `ping after login: ${reply}`);
}

function assertStartTLS(client, session) {
  if (!client.endsWith("/tcp")) return;
  const first = session.features[0];
  const text = typeof first?.xml === "string" ? first.xml : String(first);
  assert.match(text, /urn:ietf:params:xml:ns:xmpp-tls/, "first stream features offer <starttls/>");
  assert.match(String(session.tlsProtocol), /^TLSv1\.[23]$/, "stream was upgraded with STARTTLS");
}

for (const [client, mechanisms] of Object.entries(MATRIX)) {
  describe(`login with ${client}`, () => {
    for (const mechanism of mechanisms) {
      it(`${mechanism} succeeds and binds a resource`, async () => {
        const user = mechanism === "ANONYMOUS" ? undefined : "alice";
        const domain = domainFor(mechanism);
        const session = await login(client, user, { mechanism, domain });
        try {
          const [node, host] = bare(session.jid).split("@");
          assert.equal(host, domain, `bound JID ${session.jid}`);
          if (user) {
            assert.equal(node, user, `bound JID ${session.jid}`);
          } else {
            assert.ok(node && node.length > 0, `anonymous JID ${session.jid} has a local part`);
          }
          assert.ok(session.jid.includes("/"), `bound JID ${session.jid} is a full JID`);
          assertStartTLS(client, session);
          await assertUsable(session);
        } finally {
          await session.close();
        }
      });
    }
  });
}

// Refused logins. parley throttles failed logins per client address (the
// fifth within a minute locks the address out for a while) and every client
// here comes from 127.0.0.1, so the whole suite stays at four failures: each
// SCRAM variant and PLAIN, both transports, three libraries.
const REFUSED = [
  ["xmpp.js/websocket", "SCRAM-SHA-1", "alice", "a wrong password"],
  ["strophe.js/websocket", "SCRAM-SHA-256", "alice", "a wrong password"],
  ["slixmpp/tcp", "PLAIN", "bob", "a wrong password"],
  ["xmpp.js/tcp", "SCRAM-SHA-1", "nobody-here", "an unknown account"],
];

describe("refused logins", () => {
  for (const [client, mechanism, user, what] of REFUSED) {
    it(`${client} ${mechanism} with ${what} fails with not-authorized`, async () => {
      await assert.rejects(
        login(client, user, { mechanism, domain: domainFor(mechanism), pass: "wrong-password" }),
        (err) => {
          assert.ok(err instanceof LoginError, `expected a SASL failure, got ${err}`);
          assert.equal(err.condition, "not-authorized");
          return true;
        },
      );
    });
  }
});

describe("anonymous logins", () => {
  it("two anonymous logins get different JIDs", async () => {
    const a = await login("xmpp.js/websocket", undefined, { mechanism: "ANONYMOUS" });
    const b = await login("slixmpp/tcp", undefined, { mechanism: "ANONYMOUS" });
    try {
      assert.notEqual(bare(a.jid), bare(b.jid));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
