// HTTP File Upload (XEP-0363): slixmpp's plugin (disco, slot, PUT with
// aiohttp) and @xmpp/client with a hand-built slot request and fetch; the
// same rows run against Prosody's mod_http_file_share (TARGET=prosody).
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { login } from "../lib/clients.js";
import { env } from "../lib/env.js";
import { uniqueName, xml } from "../lib/stanza.js";
import { slix, xep } from "../lib/apps.js";

const NS_UPLOAD = "urn:xmpp:http:upload:0";

describe("HTTP file upload (XEP-0363)", () => {
  let alice;
  let bob;
  after(() => Promise.all([alice?.close(), bob?.close()]));

  it("slixmpp uploads a file; its GET URL serves the same bytes", async () => {
    alice = await slix("alice", uniqueName("upload"), ["xep_0363"]);
    const data = randomBytes(5000);
    const r = await xep(alice, "upload", {
      data: data.toString("base64"), filename: `${uniqueName("pic")}.png`, type: "image/png", domain: env.domain,
    }, 3 * env.stepMs);
    const res = await fetch(r.url);
    assert.equal(res.status, 200, `GET ${r.url}`);
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), data);
  });

  it("xmpp.js asks for a slot, PUTs and GETs; a second PUT to the slot is refused", async () => {
    bob = await login("xmpp.js/websocket", "bob");
    const data = randomBytes(1234);
    const name = `${uniqueName("doc")}.bin`;
    const reply = await bob.iq(xml("iq", { type: "get", to: `upload.${env.domain}` },
      xml("request", { xmlns: NS_UPLOAD, filename: name, size: String(data.length), "content-type": "application/octet-stream" })));
    assert.equal(reply.attrs.type, "result", `slot: ${reply}`);
    const slot = reply.getChild("slot", NS_UPLOAD);
    const put = slot.getChild("put").attrs.url;
    const get = slot.getChild("get").attrs.url;
    const headers = { "content-type": "application/octet-stream" };
    for (const h of slot.getChild("put").getChildren("header")) headers[h.attrs.name] = h.text();
    const up = await fetch(put, { method: "PUT", body: data, headers });
    assert.ok(up.status === 201 || up.status === 200, `PUT: ${up.status}`);
    const down = await fetch(get);
    assert.deepEqual(Buffer.from(await down.arrayBuffer()), data);
    const again = await fetch(put, { method: "PUT", body: data, headers });
    assert.ok(again.status >= 400, `a second PUT got ${again.status}`);
  });

  it("a file over the size limit is refused with file-too-large", async () => {
    const reply = await bob.iq(xml("iq", { type: "get", to: `upload.${env.domain}` },
      xml("request", { xmlns: NS_UPLOAD, filename: "huge.bin", size: String(50 * 1024 * 1024 * 1024), "content-type": "application/octet-stream" })));
    assert.equal(reply.attrs.type, "error", `${reply}`);
    assert.ok(reply.getChild("error").getChild("file-too-large", NS_UPLOAD), `${reply}`);
  });
});
