// Push Notifications (XEP-0357): a phone enables push with its app server,
// its stream-management session hibernates (the link dies, as when the
// phone sleeps), a message comes, and the app server, a component of the
// suite's own built on slixmpp's XEP-0114 support (py/pushserver.py),
// receives the notification; the phone then resumes and gets the message.
// Prosody 0.12 as Debian ships it has no push module (mod_cloud_notify is a
// community module): there the row checks that push is not advertised.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { login } from "../lib/clients.js";
import { env } from "../lib/env.js";
import { withTimeout } from "../lib/session.js";
import { uniqueName, xml } from "../lib/stanza.js";
import { available, chat, hasBody, jidOf, slix } from "../lib/apps.js";

const NS_PUSH = "urn:xmpp:push:0";
const SERVER = fileURLToPath(new URL("../py/pushserver.py", import.meta.url));

/** startPushServer runs py/pushserver.py; resolves once its handshake is accepted. */
async function startPushServer() {
  const child = spawn(env.python, [SERVER, "--jid", env.pushDomain, "--secret", env.pushSecret,
    "--host", env.tcpHost, "--port", String(env.componentPort)], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { if (stderr.length < 8192) stderr += d.toString(); });
  const pushes = [];
  const waiters = new Set();
  const app = {
    pushes,
    close: () => { child.stdin.end(); return new Promise((r) => { child.once("exit", r); setTimeout(() => { child.kill(); r(); }, 2000); }); },
    /** next resolves with the next push after index since. */
    next(since, what) {
      return withTimeout(new Promise((resolve) => {
        const check = () => { if (pushes.length > since) { waiters.delete(check); resolve(pushes[since]); } };
        waiters.add(check);
        check();
      }), what, env.stepMs);
    },
  };
  const online = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      const ev = JSON.parse(line);
      if (ev.event === "online") resolve(app);
      if (ev.event === "push") { pushes.push(ev); for (const w of [...waiters]) w(); }
      if (ev.event === "disconnected") reject(new Error(`push server disconnected: ${ev.reason} ${stderr}`));
    });
    child.once("exit", (code) => reject(new Error(`push server exited (${code}): ${stderr}`)));
  });
  return withTimeout(online, "the push server's component handshake", env.loginMs);
}

function pushEnable(node, secret) {
  return xml("iq", { type: "set" }, xml("enable", { xmlns: NS_PUSH, jid: env.pushDomain, node },
    xml("x", { xmlns: "jabber:x:data", type: "submit" },
      xml("field", { var: "FORM_TYPE" }, xml("value", {}, "http://jabber.org/protocol/pubsub#publish-options")),
      xml("field", { var: "secret" }, xml("value", {}, secret)))));
}

describe("push notifications (XEP-0357)", () => {
  let app;
  let alice;
  let bob;
  after(() => Promise.all([alice?.close(), bob?.close(), app?.close()]));

  it("a message to a sleeping phone reaches its app server; the phone resumes and reads it", async () => {
    alice = await slix("alice", uniqueName("phone"), ["xep_0198"], { reconnect: true });
    const info = await alice.plugin("disco_info", jidOf("alice"));
    assert.ok(info.ok, `disco#info of the account: ${JSON.stringify(info)}`);
    if (!env.pushDomain) {
      assert.ok(!info.features.includes(NS_PUSH), "a target without push does not advertise it");
      return;
    }
    assert.ok(info.features.includes(NS_PUSH), `the account advertises ${NS_PUSH}: ${info.features}`);
    app = await startPushServer();
    await available(alice);
    const deadline = Date.now() + env.stepMs;
    while (!alice.smEnabled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(alice.smEnabled, "slixmpp enabled stream management");
    const node = uniqueName("node");
    const res = await alice.iq(pushEnable(node, "phone-secret"));
    assert.equal(res.attrs.type, "result", `enable: ${res}`);

    bob = await login("xmpp.js/websocket", "bob");
    const tag = uniqueName("push");
    await bob.send(chat(jidOf("alice"), `${tag}-awake`));
    await alice.waitFor(hasBody(`${tag}-awake`), "a message while awake");
    assert.equal(app.pushes.length, 0, "no push while the phone is connected");

    await alice.xep("sleep");
    await new Promise((r) => setTimeout(r, 300)); // the server notices the cut
    await bob.send(chat(jidOf("alice"), `${tag}-asleep`));
    const push = await app.next(0, "a push notification");
    assert.equal(push.type, "set");
    assert.equal(push.sender, jidOf("alice"), "published as the account's bare JID");
    assert.equal(push.node, node);
    assert.equal(push.options.secret, "phone-secret", "publish-options carry the app's secret");
    assert.equal(push.summary.FORM_TYPE, "urn:xmpp:push:summary");
    assert.ok(Number(push.summary["message-count"]) >= 1, `message-count: ${JSON.stringify(push.summary)}`);
    assert.ok(!push.xml.includes(tag), "the notification does not carry the message");

    await alice.xep("wake");
    await alice.waitFor(hasBody(`${tag}-asleep`), "the message after waking up", { timeout: 3 * env.stepMs });
    assert.equal(alice.resumed, 1, "slixmpp resumed the session");
    assert.equal(app.pushes.length, 1, "one push for one sleep");
  });
});
