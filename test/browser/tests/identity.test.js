// Logins and the lobby from the web library (web/static/lib login.js,
// lobby.js, muc.js) in real browsers against a real parley: a token minted
// by the admin API logs in (and a forged one is refused, never a guest); a
// host logs in with its account in Chromium, a token guest knocks from
// Firefox and is admitted with its token's name; the host ends the meeting
// and the guest learns why.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startParley } from '../lib/parley.js';
import { launch } from '../lib/browsers.js';

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
    s.close(() => resolve(port));
  });
});

const secrets = mkdtempSync(path.join(tmpdir(), 'parley-identity-'));
writeFileSync(path.join(secrets, 'jwt'), 'a shared secret for the browser test\n');
writeFileSync(path.join(secrets, 'admin'), 'admin-token-for-the-browser-test\n');
const adminPort = await freePort();
const parley = await startParley({
  users: { host: 'host password' },
  args: ['--jwt-secret-file', path.join(secrets, 'jwt'), '--admin', `127.0.0.1:${adminPort}`,
    '--admin-token-file', path.join(secrets, 'admin')],
});
const browsers = [];
after(async () => {
  for (const b of browsers) await b.close().catch(() => {});
  await parley.stop();
});

/** api calls the admin API. */
async function api(method, p, body) {
  const res = await fetch(`http://127.0.0.1:${adminPort}${p}`, {
    method, body: body ? JSON.stringify(body) : undefined,
    headers: { Authorization: 'Bearer admin-token-for-the-browser-test' },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function openPage(kind) {
  const browser = await launch(kind);
  browsers.push(browser);
  const page = await browser.newPage();
  await page.goto(`${parley.base}/`);
  return page;
}

for (const kind of ['chromium', 'firefox']) {
  test(`${kind}: a minted token logs in with its identity; a forged one is refused, not a guest`, async () => {
    const minted = await api('POST', '/api/tokens', { user: `u-${kind}`, name: `Tess ${kind}` });
    assert.equal(minted.status, 200);
    const page = await openPage(kind);
    const out = await page.evaluate(async (token) => {
      const { XmppClient } = await import('/static/lib/xmpp.js');
      const { clientConfig, tokenRefused } = await import('/static/lib/login.js');
      const base = { url: `ws://${location.host}/xmpp-websocket`, domain: location.hostname, learnDomain: true, reconnect: false };
      const good = new XmppClient(clientConfig(base, { kind: 'token', token }));
      const jid = await good.connect();
      await good.close();
      const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      let refused = '';
      try {
        await new XmppClient(clientConfig(base, { kind: 'token', token: forged })).connect();
      } catch (err) {
        refused = tokenRefused(err) ?? `not a refusal: ${err}`;
      }
      return { jid, refused };
    }, minted.body.token);
    assert.match(out.jid, /^tok-[0-9a-f]+@localhost\//);
    assert.match(out.refused, /token refused \(signature\)/);
  });
}

test('a host (account, Chromium) admits a token guest (Firefox) from the lobby, then ends the meeting', async () => {
  const room = 'arena@conference.localhost';
  assert.equal((await api('POST', '/api/rooms', { name: 'arena', lobby: true, owners: ['host'] })).status, 201);
  const guestToken = (await api('POST', '/api/tokens', { user: 'player-7', name: 'Ada Player', room: 'arena' })).body.token;
  const host = await openPage('chromium');
  const guest = await openPage('firefox');
  const setup = `
    const { XmppClient } = await import('/static/lib/xmpp.js');
    const { clientConfig } = await import('/static/lib/login.js');
    const { Room } = await import('/static/lib/muc.js');
    const lobbyLib = await import('/static/lib/lobby.js');
    const base = { url: 'ws://' + location.host + '/xmpp-websocket', domain: location.hostname, learnDomain: true };`;
  await host.evaluate(`(async () => { ${setup}
    const client = new XmppClient(clientConfig(base, { kind: 'account', username: 'host', password: 'host password' }));
    await client.connect();
    const lobby = new lobbyLib.Lobby(client, '${room}');
    window.t = { client, lobby, lobbyLib, knocks: [] };
    lobby.on('knock', (k) => window.t.knocks.push(k));
    const r = new Room({ client, room: '${room}', nick: 'Host' });
    const self = await r.join();
    window.t.room = r;
    return self.role;
  })()`).then((role) => assert.equal(role, 'moderator'));
  await guest.evaluate(`(async () => { ${setup}
    const client = new XmppClient(clientConfig(base, { kind: 'token', token: '${guestToken}' }));
    await client.connect();
    const r = new Room({ client, room: '${room}', nick: 'ada' });
    window.t = { client, room: r, waiting: [], removed: null };
    r.on('waiting', (w) => window.t.waiting.push(w));
    r.on('removed', (why) => { window.t.removed = why; });
    window.t.join = r.join().then((o) => ({ role: o.role, name: o.displayName }), (e) => ({ error: String(e) }));
  })()`);
  const knock = await host.waitForFunction(() => window.t.knocks[0], { timeout: 10_000 }).then((h) => h.jsonValue());
  assert.equal(knock.name, 'Ada Player');
  assert.equal(knock.kind, 'token');
  assert.deepEqual(await guest.evaluate(() => window.t.waiting.length), 1);
  await host.evaluate((id) => window.t.lobby.admit(id), knock.id);
  assert.deepEqual(await guest.evaluate(() => window.t.join), { role: 'participant', name: 'Ada Player' });
  // The host sees the guest under its token's name.
  await host.waitForFunction(() => window.t.room.occupants.get('ada')?.displayName === 'Ada Player', { timeout: 10_000 });
  await host.evaluate(() => window.t.lobbyLib.endMeeting(window.t.client, window.t.room.jid, 'the match is over'));
  const why = await guest.waitForFunction(() => window.t.removed, { timeout: 10_000 }).then((h) => h.jsonValue());
  assert.deepEqual(why, { kind: 'destroyed', text: 'the match is over', ended: true, by: 'Host' });
  const after = await api('GET', '/api/rooms/arena');
  assert.equal(after.body.participants.length, 0);
  assert.equal(after.body.declared, true);
});
