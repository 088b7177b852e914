// The web client's screens in Chromium: home, pre-join (preview, devices),
// chat between two participants, mic and camera toggles, the people list,
// and getting media back after the WebSocket drops.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { launch, join, waitUntil, diagnose, sample, closeAll, waitForMedia, mesh } from '../lib/browsers.js';

const parley = await startParley({ users: { alice: 'correct horse' } });
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

const visible = (page, id) => page.evaluate((i) => !document.getElementById(i).hidden, id);

test('home page sends a typed room name to its normal form, then the pre-join screen shows preview and devices', async () => {
  const browser = await launch('chromium');
  const page = await browser.newPage();
  const p = { name: 'uma', kind: 'chromium', browser, page, openedAt: performance.now(), console: [] };
  people.push(p);
  page.on('pageerror', (e) => p.console.push(`pageerror: ${e.message}`));
  await page.goto(`${parley.base}/`);
  // The screen shows once the language's catalogue is loaded.
  await waitUntil(() => visible(page, 'home'), 10_000, () => 'home screen hidden');
  await page.type('#home-room', 'Team Sync!');
  await Promise.all([page.waitForNavigation(), page.click('#home-form button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/team-sync');
  await waitUntil(() => visible(page, 'prejoin'), 10_000, () => 'pre-join screen hidden');
  assert.equal(await page.$eval('#prejoin-room', (e) => e.textContent), 'team-sync');

  await waitUntil(() => page.$eval('#preview-video', (v) => v.srcObject?.getVideoTracks().length === 1 && v.videoWidth > 0 && !v.paused),
    20_000, () => diagnose([p]));
  const devices = await page.evaluate(() => ['#prejoin-camera', '#prejoin-mic'].map((sel) =>
    [...document.querySelector(sel).options].map((o) => ({ value: o.value, label: o.textContent }))));
  for (const [i, list] of devices.entries()) {
    assert.ok(list.length >= 1 && list.every((o) => o.value && o.label), `${i ? 'microphone' : 'camera'} list: ${JSON.stringify(list)}`);
  }
  assert.equal(await page.$eval('#prejoin-error', (e) => e.hidden), true, 'an error is shown');
  // The microphone meter moves with the fake microphone's beeps.
  await waitUntil(() => page.$eval('#prejoin-meter', (m) => Number(m.getAttribute('aria-valuenow')) > 0), 10_000,
    () => 'the microphone meter stays at 0');

  // Joining without a name is refused in words; with one, the call starts.
  await page.$eval('#prejoin-name', (e) => { e.value = ''; e.required = false; });
  await page.click('#prejoin-join');
  assert.equal(await page.$eval('#prejoin-error', (e) => e.textContent), 'Please enter your name.');
  await page.type('#prejoin-name', 'uma');
  await page.click('#prejoin-join');
  await waitUntil(() => visible(page, 'call'), 10_000, () => diagnose([p]));
  await waitUntil(() => page.evaluate(() => window.parley?.status.phase === 'in-call'), 20_000, () => diagnose([p]));
});

test('chat, people list and media between two participants', async () => {
  const uma = people[0];
  const vic = await join(parley.base, 'team-sync', 'vic', 'chromium');
  people.push(vic);
  await waitForMedia(people, mesh(['uma', 'vic']), 60_000);
  const list = await uma.page.$$eval('#people li .pname', (lis) => lis.map((l) => l.textContent));
  assert.deepEqual(list, ['uma (you)', 'vic']);

  await uma.page.click('#toggle-chat'); // the chat panel starts closed
  await uma.page.type('#chat-input', 'hello from uma <b>&</b>');
  await uma.page.keyboard.press('Enter');
  await waitUntil(() => vic.page.$$eval('#chat-log li', (lis) => lis.some((l) => l.querySelector('.from')?.textContent === 'uma' && l.querySelector('.body')?.textContent === 'hello from uma <b>&</b>')),
    10_000, async () => `vic's chat: ${await vic.page.$eval('#chat-log', (e) => e.textContent)}`);
  assert.equal(await vic.page.$$eval('#chat-log b', (b) => b.length), 0, 'chat text was interpreted as HTML');
});

test('mic and camera toggles silence and blank what the others get', async () => {
  const [uma, vic] = people;
  const level = async () => (await vic.page.evaluate(async () => {
    let max = 0;
    for (const r of window.parley.participants.get('uma').receivers) {
      (await r.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') max = Math.max(max, s.audioLevel ?? 0);
      });
    }
    return max;
  }));
  await waitUntil(async () => (await level()) > 0.01, 15_000, async () => `uma's audio level at vic stays ${await level()}`);
  await uma.page.click('#toggle-mic');
  assert.deepEqual(await uma.page.$eval('#toggle-mic', (b) => [b.getAttribute('aria-pressed'), b.getAttribute('aria-label'), b.textContent]), ['true', 'Unmute microphone', 'Unmute']);
  assert.equal(await uma.page.evaluate(() => window.parley.call.cfg.localTracks().audio.enabled), false);
  await waitUntil(async () => (await level()) < 0.001, 15_000, async () => `muted, yet uma's level at vic is ${await level()}`);
  await uma.page.click('#toggle-mic');
  assert.equal(await uma.page.$eval('#toggle-mic', (b) => b.getAttribute('aria-pressed')), 'false');
  await waitUntil(async () => (await level()) > 0.01, 15_000, async () => `unmuted, yet uma's level at vic is ${await level()}`);

  // The picture vic gets from uma: mean brightness of the tile's video.
  const brightness = () => vic.page.$eval('.tile[data-nick="uma"] video', (v) => {
    const c = document.createElement('canvas');
    c.width = 64;
    c.height = 36;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0, c.width, c.height);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += (d[i] + d[i + 1] + d[i + 2]) / 3;
    return sum / (d.length / 4);
  });
  await waitUntil(async () => (await brightness()) > 20, 15_000, async () => `uma's picture at vic is dark: ${await brightness()}`);
  await uma.page.click('#toggle-camera');
  assert.deepEqual(await uma.page.$eval('#toggle-camera', (b) => [b.getAttribute('aria-pressed'), b.getAttribute('aria-label')]), ['true', 'Turn camera on']);
  // Off closes the camera (its light goes off): no track is sent.
  await waitUntil(() => uma.page.evaluate(() => window.parley.call.cfg.localTracks().video === null), 5000, () => 'the camera stays open');
  assert.equal(await uma.page.$eval('.tile.self .avatar', (a) => a.hidden), false, 'no placeholder for the stopped camera');
  // vic shows uma's initials instead of the picture, and gets no more of it
  // (Firefox may still send a black keepalive frame a second).
  await waitUntil(() => vic.page.$eval('.tile[data-nick="uma"]', (t) => t.querySelector('video').hidden && !t.querySelector('.avatar').hidden), 15_000, () => `vic still shows uma's picture`);
  const framesFromUma = async () => (await sample(vic)).uma?.videoFrames ?? 0;
  await waitUntil(async () => {
    const a = await framesFromUma();
    await sleep(2000);
    return (await framesFromUma()) - a <= 3;
  }, 15_000, () => 'camera off, yet vic still gets uma\'s video');
  await uma.page.click('#toggle-camera');
  await waitUntil(() => uma.page.evaluate(() => window.parley.call.cfg.localTracks().video?.readyState === 'live'), 15_000, () => 'the camera did not open again');
  await waitUntil(async () => (await brightness()) > 20, 15_000, async () => `camera on again, yet uma's picture at vic is dark: ${await brightness()}`);
});

test('the microphone and camera are switched during the call without rejoining', async () => {
  const [uma, vic] = people;
  const before = await uma.page.evaluate(() => {
    window.__pcBeforeSwitch = window.parley.pc;
    return { senders: window.parley.pc.getSenders().map((x) => x.track?.id ?? '') };
  });
  await uma.page.click('#open-settings');
  const pick = await uma.page.evaluate(() => {
    const sel = document.getElementById('settings-mic');
    const cur = window.parley.call.cfg.localTracks().audio.getSettings().deviceId;
    const other = [...sel.options].map((o) => o.value).find((v) => v && v !== cur);
    return other ?? cur;
  });
  await uma.page.select('#settings-mic', pick);
  await uma.page.select('#settings-camera', await uma.page.$eval('#settings-camera', (e) => e.value));
  await waitUntil(() => uma.page.evaluate((old) => {
    const ids = window.parley.pc.getSenders().map((x) => x.track?.id ?? '');
    const local = window.parley.call.cfg.localTracks();
    return ids.includes(local.audio.id) && ids.includes(local.video.id) && !old.some((id) => id && (id === local.audio.id || id === local.video.id))
      && local.audio.readyState === 'live' && local.video.readyState === 'live';
  }, before.senders), 15_000, async () => `senders: ${JSON.stringify(await uma.page.evaluate(() => window.parley.pc.getSenders().map((x) => x.track?.label)))}`);
  assert.equal(await uma.page.evaluate(() => window.parley.pc === window.__pcBeforeSwitch), true, 'a new peer connection: the call was rejoined');
  assert.equal(await uma.page.evaluate(() => window.parley.call.cfg.localTracks().audio.getSettings().deviceId), pick);
  await uma.page.keyboard.press('Escape');
  // vic still gets uma's sound and picture.
  const a = await sample(vic);
  await sleep(2000);
  const b = await sample(vic);
  assert.ok(b.uma.audioPackets > a.uma.audioPackets && b.uma.videoFrames > a.uma.videoFrames, `vic's media from uma: ${JSON.stringify([a.uma, b.uma])}`);
});

test('after the WebSocket drops the client reconnects, rejoins and gets media back', async () => {
  const [uma, vic] = people;
  await vic.page.evaluate(() => {
    window.__oldPc = window.parley.pc;
    window.parley.call.client.ws.close();
  });
  await waitUntil(() => vic.page.evaluate(() => window.parley.statusLog.some((t) => t.startsWith('Connection lost, reconnecting'))),
    10_000, () => diagnose([vic]));
  await waitUntil(() => vic.page.evaluate(() => window.parley.pc && window.parley.pc !== window.__oldPc && window.parley.pc.connectionState === 'connected'),
    45_000, () => diagnose([vic]));
  await waitForMedia(people, mesh(['uma', 'vic']), 45_000);
  const a = await sample(uma);
  await sleep(2000);
  const b = await sample(uma);
  assert.ok(b.vic.videoFrames > a.vic.videoFrames && b.vic.audioPackets > a.vic.audioPackets, `uma's media from vic: ${JSON.stringify([a.vic, b.vic])}`);
  assert.equal(await vic.page.$eval('#call-state', (e) => e.textContent), 'Connected');
});

test('accounts log in from the browser with SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN; a wrong password is refused', async () => {
  const page = await people[0].browser.newPage();
  await page.goto(`${parley.base}/`);
  const results = await page.evaluate(async () => {
    const { XmppClient } = await import('/static/lib/xmpp.js');
    const url = `ws://${location.host}/xmpp-websocket`;
    const out = {};
    for (const [mech, password] of [['SCRAM-SHA-256', 'correct horse'], ['SCRAM-SHA-1', 'correct horse'], ['PLAIN', 'correct horse'], ['SCRAM-SHA-256', 'wrong']]) {
      const c = new XmppClient({ url, domain: location.hostname, learnDomain: true, credentials: { username: 'alice', password }, mechanisms: [mech], reconnect: false });
      try {
        out[`${mech}/${password}`] = await c.connect();
        await c.close();
      } catch (err) {
        out[`${mech}/${password}`] = `${err.name}: ${err.condition ?? err.message}`;
      }
    }
    return out;
  });
  await page.close();
  for (const mech of ['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']) assert.match(results[`${mech}/correct horse`], /^alice@localhost\/\S+$/, JSON.stringify(results));
  assert.equal(results['SCRAM-SHA-256/wrong'], 'AuthError: not-authorized');
});

test('the pre-join screen works in Firefox too: preview, devices, join', async () => {
  const browser = await launch('firefox');
  const page = await browser.newPage();
  const p = { name: 'fox', kind: 'firefox', browser, page, openedAt: performance.now(), console: [] };
  people.push(p);
  page.on('pageerror', (e) => p.console.push(`pageerror: ${e.message}`));
  await page.goto(`${parley.base}/team-sync`);
  await waitUntil(() => page.$eval('#preview-video', (v) => v.srcObject?.getVideoTracks().length === 1 && v.videoWidth > 0),
    20_000, () => diagnose([p]));
  const counts = await page.evaluate(() => ['#prejoin-camera', '#prejoin-mic'].map((sel) =>
    [...document.querySelector(sel).options].filter((o) => o.value && o.textContent).length));
  assert.ok(counts[0] >= 1 && counts[1] >= 1, `device lists: ${counts}`);
  // (No meter check here: headless Firefox has no audio output on these machines, so its
  // AudioContext never leaves "suspended"; the Chromium test above checks the meter.)
  await page.type('#prejoin-name', 'fox');
  await page.click('#prejoin-join');
  await waitForMedia(people.filter((q) => ['uma', 'fox'].includes(q.name)), mesh(['uma', 'fox']), 60_000);
});
