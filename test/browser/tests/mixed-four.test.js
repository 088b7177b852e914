// Scenarios (b) and (c), and the 4-person measurements of (d): two
// Chromium and two Firefox participants in one call, with their audio's
// FEC, DTX and RED; then one leaves and another joins while the others'
// media keeps flowing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startParley, sleep, cpuPercent, freePort } from '../lib/parley.js';
import { join, mesh, waitForMedia, sampleAll, stalled, closeAll, diagnose, waitUntil } from '../lib/browsers.js';

// The admin listener shows what the SFU receives (the published codecs).
const secrets = mkdtempSync(path.join(tmpdir(), 'parley-mixed-'));
const adminToken = 'admin-token-for-the-mixed-test';
writeFileSync(path.join(secrets, 'admin'), `${adminToken}\n`);
const adminPort = await freePort();
const parley = await startParley({
  args: ['--admin', `127.0.0.1:${adminPort}`, '--admin-token-file', path.join(secrets, 'admin')],
});
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

const byName = (n) => people.find((p) => p.name === n);

test('two Chromium and two Firefox participants receive each other', async () => {
  for (const [name, kind] of [['cr1', 'chromium'], ['ff1', 'firefox'], ['cr2', 'chromium'], ['ff2', 'firefox']]) {
    people.push(await join(parley.base, 'mixed', name, kind));
  }
  const expected = mesh(people.map((p) => p.name));
  const firstFrame = await waitForMedia(people, expected, 90_000);
  const u1 = parley.usage();
  const s1 = await sampleAll(people);
  await sleep(2000);
  const s2 = await sampleAll(people);
  const u2 = parley.usage();
  const bad = stalled(s1, s2, expected);
  assert.deepEqual(bad, [], `media stalled:\n${bad.join('\n')}\n${await diagnose(people)}`);
  // Opus in-band FEC and DTX: the focus's offer asks for them, and each
  // browser's microphone is sent with them (the outbound codec's fmtp).
  for (const p of people) {
    const opus = await p.page.evaluate(async () => {
      const pc = /** @type {any} */ (window).parley.pc;
      const audio = pc.remoteDescription.sdp.split(/\r\nm=/).find((m) => m.startsWith('audio')) ?? '';
      const opusPT = /^a=rtpmap:(\d+) opus\//im.exec(audio)?.[1] ?? 'none';
      const offered = new RegExp(`^a=fmtp:${opusPT} .*$`, 'm').exec(audio);
      let sending = null;
      const stats = await pc.getStats();
      stats.forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'audio' && s.codecId) sending = stats.get(s.codecId) ?? null;
      });
      return { offered: offered?.[0] ?? '', mime: sending?.mimeType ?? '', fmtp: sending?.sdpFmtpLine ?? '' };
    });
    const params = (line) => new Set(line.replace(/^a=fmtp:\d+ /, '').split(';'));
    for (const [what, line] of [['offer', opus.offered], ['outbound codec', opus.fmtp]]) {
      const got = params(line);
      assert.ok(got.has('useinbandfec=1') && got.has('usedtx=1'), `${p.name}'s ${what} Opus fmtp lacks useinbandfec=1;usedtx=1: ${JSON.stringify(opus)}`);
    }
    assert.match(opus.mime, /^audio\/opus$/i, `${p.name} sends ${opus.mime}`);
  }
  // RED for audio (RFC 2198): the focus offers red before Opus. Chromium
  // negotiates it and publishes RED, which reaches the other Chromium page
  // as RED; Firefox has no audio RED and gets a Chromium page's audio as
  // the primary Opus blocks, and decodes it (its audio energy grows).
  const audioFrom = (p, nick) => p.page.evaluate(async (nick) => {
    const entry = /** @type {any} */ (window).parley.participants.get(nick);
    const out = { codecs: /** @type {string[]} */ ([]), packets: 0, bytes: 0, energy: 0, mime: '' };
    for (const r of entry?.receivers ?? []) {
      if (r.track.kind !== 'audio') continue;
      out.codecs = r.getParameters().codecs.map((/** @type {any} */ c) => c.mimeType.toLowerCase());
      const stats = await r.getStats();
      stats.forEach((s) => {
        if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
        Object.assign(out, { packets: s.packetsReceived, bytes: s.bytesReceived, energy: s.totalAudioEnergy,
          mime: stats.get(s.codecId)?.mimeType ?? '' });
      });
    }
    return out;
  }, nick);
  const redPairs = [['cr1', 'cr2'], ['cr2', 'cr1']];
  const opusPairs = [['ff1', 'cr1'], ['ff1', 'cr2'], ['ff2', 'cr1']];
  const audio1 = await Promise.all([...redPairs, ...opusPairs].map(([rx, tx]) => audioFrom(byName(rx), tx)));
  await sleep(2000);
  const audio2 = await Promise.all([...redPairs, ...opusPairs].map(([rx, tx]) => audioFrom(byName(rx), tx)));
  // Payload bytes per packet over the interval: a Firefox page gets the
  // primary blocks, about half of what the other Chromium page gets of the
  // same microphone (a RED packet also carries the previous frame).
  const perPacket = (i) => (audio2[i].bytes - audio1[i].bytes) / (audio2[i].packets - audio1[i].packets);
  [...redPairs, ...opusPairs].forEach(([rx, tx], i) => {
    const [a, b] = [audio1[i], audio2[i]];
    const what = `${rx} <- ${tx}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}`;
    assert.equal(b.codecs.includes('audio/red'), i < redPairs.length, `red negotiated? ${what}`);
    assert.ok(b.packets > a.packets && b.energy > a.energy, `audio not decoded: ${what}`);
    if (i < redPairs.length) return;
    assert.match(b.mime, /^audio\/opus$/i, what);
    const red = redPairs.findIndex(([, from]) => from === tx);
    assert.ok(perPacket(i) < 0.75 * perPacket(red),
      `${rx} gets ${perPacket(i)} bytes a packet from ${tx}, ${redPairs[red][0]} gets ${perPacket(red)} (RED): not the primary blocks? ${what}`);
  });
  const conf = await (await fetch(`http://127.0.0.1:${adminPort}/stats/conferences/mixed`, {
    headers: { Authorization: `Bearer ${adminToken}` },
  })).json();
  const published = Object.fromEntries(conf.participants.map((/** @type {any} */ p) => [p.nick,
    (p.media?.published ?? []).find((/** @type {any} */ s) => s.source === 'audio')?.codec]));
  assert.deepEqual(published, { cr1: 'audio/red', cr2: 'audio/red', ff1: 'audio/opus', ff2: 'audio/opus' }, 'the audio codecs published');
  for (const p of conf.participants) {
    assert.equal(p.media.counters.DroppedBadRED, 0, `${p.nick}: RED packets with no Opus block`);
  }
  // DTX in effect: a muted microphone (silence) sends a packet every
  // 400 ms or so, against 50 a second without DTX (measured: 4.7 vs 50).
  const audioSent = (p) => p.page.evaluate(async () => {
    let n = 0;
    (await /** @type {any} */ (window).parley.pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'audio') n += s.packetsSent; });
    return n;
  });
  await Promise.all(['cr1', 'ff1'].map(async (n) => {
    const p = byName(n);
    await p.page.click('#toggle-mic');
    await sleep(1500);
    const before = await audioSent(p);
    await sleep(3000);
    const rate = ((await audioSent(p)) - before) / 3;
    await p.page.click('#toggle-mic');
    assert.ok(rate < 20, `${n} sends ${rate} audio packets/s with its microphone muted: DTX is off`);
  }));
  // Earlier joiners wait for the later ones to start their browsers; the
  // last joiner's figure is the one a user joining a running call sees.
  console.log(JSON.stringify({ measure: 'join-to-first-frame-ms', scenario: '2 chromium + 2 firefox', values: Object.fromEntries(firstFrame), lastJoiner: firstFrame.get('ff2') }));
  console.log(JSON.stringify({ measure: 'parley-usage', participants: 4, cpuPercent: Math.round(cpuPercent(u1, u2)), rssMiB: Math.round(u2.rssMiB) }));
});

test('one leaves and another joins: the others never stop, tracks come and go everywhere', async () => {
  const stayers = ['cr1', 'ff1', 'cr2'];
  const marks = await Promise.all(stayers.map((n) => byName(n).page.evaluate(() => (window.__noReload = Math.random()))));
  const keep = mesh(stayers);
  const s0 = await sampleAll(people.filter((p) => stayers.includes(p.name)));

  // ff2 leaves with the Leave button.
  const leaver = byName('ff2');
  await leaver.page.click('#leave');
  await waitUntil(() => leaver.page.evaluate(() => !document.getElementById('left').hidden), 15_000, () => 'the leaver never saw the "You left" screen');
  for (const n of stayers) {
    const p = byName(n);
    await waitUntil(
      () => p.page.evaluate(() => {
        const hook = window.parley;
        const kinds = hook.events.filter((e) => e.type === 'track-removed' && e.nick === 'ff2').map((e) => e.kind);
        return !hook.participants.has('ff2') && !document.querySelector('.tile[data-nick="ff2"]') && kinds.includes('audio') && kinds.includes('video');
      }),
      20_000,
      async () => `${n} still shows ff2's tile or tracks: ${await diagnose([p])}`,
    );
  }
  const staying = people.filter((p) => stayers.includes(p.name));
  await sleep(1000);
  const s1 = await sampleAll(staying);

  // cr3 joins.
  const newcomer = await join(parley.base, 'mixed', 'cr3', 'chromium');
  people.push(newcomer);
  const now = [...staying, newcomer];
  const joinTimes = await waitForMedia(now, mesh(now.map((p) => p.name)), 60_000);
  console.log(JSON.stringify({ measure: 'join-to-first-frame-ms', scenario: 'chromium joining a call of 3', values: { cr3: joinTimes.get('cr3') } }));
  const s2 = await sampleAll(staying);
  await sleep(2000);
  const s3 = await sampleAll(staying);

  const intervals = [['before -> after the leave', s0, s1], ['during the join', s1, s2], ['after the join', s2, s3]];
  for (const [what, a, b] of intervals) {
    const bad = stalled(a, b, keep);
    assert.deepEqual(bad, [], `${what}: media stalled:\n${bad.join('\n')}\n${await diagnose(staying)}`);
  }
  const after = await Promise.all(stayers.map((n) => byName(n).page.evaluate(() => window.__noReload)));
  assert.deepEqual(after, marks, 'a page reloaded');
  for (const p of staying) {
    const ended = await p.page.evaluate(() => window.parley.events.filter((e) => e.nick === 'ff2' && e.type === 'track-added').length);
    assert.ok(ended >= 2, `${p.name} never had ff2's tracks to lose`);
  }
});
