// Recording a call of Chromium, Firefox and a Pion peer from the web
// client: the owner's Record button, the badge everyone sees, a guest
// refused by the server, and files that ffprobe reads at the length of
// each track's time in the call (docs/SIGNALLING.md §14); the owner's
// list of recordings (download, remove), which a guest does not get.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startParley, sleep } from '../lib/parley.js';
import { startPion } from '../lib/pion.js';
import { join, waitUntil, diagnose, closeAll } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
let pion = null;
after(async () => {
  await pion?.stop();
  await closeAll(people);
  await parley.stop();
});

const inCall = (p) => waitUntil(() => p.page.evaluate(() => window.parley?.status.phase === 'in-call'), 30_000, () => diagnose([p]));
const badge = (p) => p.page.evaluate(() => {
  const b = document.getElementById('recording-badge');
  return b && !b.hidden ? b.textContent : '';
});

test('the owner records a call of Chromium, Firefox and a Pion peer; everyone sees it; a guest may not', async () => {
  const owner = await join(parley.base, 'recorded', 'olive', 'chromium');
  people.push(owner);
  await inCall(owner);
  const guest = await join(parley.base, 'recorded', 'gil', 'firefox');
  people.push(guest);
  await inCall(guest);
  pion = await startPion({ base: parley.base, room: 'recorded', n: 1 });

  // The guest holds no record permission: no button, and the room refuses.
  await waitUntil(() => owner.page.evaluate(() => !document.getElementById('toggle-record')?.hidden), 10_000, () => diagnose([owner]));
  assert.equal(await guest.page.evaluate(() => document.getElementById('toggle-record')?.hidden), true, 'a guest sees the Record button');
  const refused = await guest.page.evaluate(async () => {
    const { startRecording } = await import('/static/lib/recording.js');
    const call = window.parley.call;
    return startRecording(call.client, call.room.jid).then(() => 'started', (e) => String(e.condition ?? e.message));
  });
  assert.match(refused, /forbidden/);

  await sleep(2000); // media flowing from everyone
  await owner.page.click('#toggle-record');
  for (const p of [owner, guest]) {
    await waitUntil(async () => (await badge(p)) === '● Recording', 20_000, () => diagnose([p]));
  }
  await sleep(6000);
  await owner.page.click('#toggle-record');
  for (const p of [owner, guest]) {
    await waitUntil(async () => (await badge(p)) === '', 20_000, () => diagnose([p]));
  }

  const root = path.join(path.dirname(parley.logPath), 'recordings', 'recorded');
  let manifest = null;
  await waitUntil(() => {
    const ids = readdirSync(root);
    if (ids.length !== 1) return false;
    manifest = JSON.parse(readFileSync(path.join(root, ids[0], 'manifest.json'), 'utf8'));
    return manifest.state === 'stopped';
  }, 20_000, () => `manifest: ${JSON.stringify(manifest)}`);
  const seen = new Set(manifest.tracks.map((t) => `${t.nick}/${t.kind}`));
  for (const want of ['olive/audio', 'olive/video', 'gil/audio', 'gil/video', 'pion1/audio', 'pion1/video']) {
    assert.ok(seen.has(want), `no track ${want} in ${[...seen]}`);
  }
  const recorded = (Date.parse(manifest.ended) - Date.parse(manifest.started));
  for (const t of manifest.tracks) {
    const file = path.join(root, manifest.id, t.file);
    const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file], { encoding: 'utf8' }));
    const inCall = (recorded - t.start_ms) / 1000;
    assert.ok(Math.abs(seconds - inCall) <= 1, `${t.file}: ${seconds} s in the file, ${inCall} s in the call`);
    const errors = execFileSync('ffmpeg', ['-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(errors.trim(), '', `${t.file} does not decode cleanly`);
  }

  // The owner's list of recordings: a link per file that downloads it, and
  // Remove (two clicks); the guest has no such button and the room
  // refuses the list.
  assert.equal(await guest.page.evaluate(() => document.getElementById('show-recordings')?.hidden), true, 'a guest sees the Recordings button');
  const guestList = await guest.page.evaluate(async () => {
    const { listRecordings } = await import('/static/lib/recording.js');
    const call = window.parley.call;
    return listRecordings(call.client, call.room.jid).then(() => 'listed', (e) => String(e.condition ?? e.message));
  });
  assert.match(guestList, /forbidden/);
  await owner.page.click('#show-recordings');
  await waitUntil(() => owner.page.evaluate(() => document.querySelectorAll('#recordings-list > li').length === 1), 10_000,
    () => owner.page.evaluate(() => document.getElementById('recordings')?.outerHTML ?? 'no dialog'));
  const links = await owner.page.evaluate(() => [...document.querySelectorAll('#recordings-list a')].map((a) => ({ text: a.textContent, href: a.getAttribute('href'), name: a.getAttribute('download') })));
  assert.equal(links.length, manifest.tracks.length + 1, `links ${JSON.stringify(links)}`); // the tracks and the manifest
  for (const link of links) {
    const track = manifest.tracks.find((t) => t.file === link.name);
    const got = await owner.page.evaluate(async (href) => {
      const res = await fetch(href);
      return { status: res.status, bytes: (await res.arrayBuffer()).byteLength };
    }, link.href);
    assert.equal(got.status, 200, `${link.name}: ${got.status}`);
    if (track) assert.equal(got.bytes, track.bytes, `${link.name}: ${got.bytes} bytes downloaded, ${track.bytes} in the manifest`);
    else assert.ok(got.bytes > 0, `${link.name}: empty`);
  }
  await owner.page.click('#recordings-list .rec-remove');
  await owner.page.click('#recordings-list .rec-remove');
  await waitUntil(() => owner.page.evaluate(() => document.querySelectorAll('#recordings-list > li').length === 0
    && document.getElementById('recordings-status')?.textContent === 'No recordings of this meeting.'), 10_000,
  () => owner.page.evaluate(() => document.getElementById('recordings')?.outerHTML ?? 'no dialog'));
  assert.deepEqual(readdirSync(root), [], 'the recording is still on disk');
});

test('in Firefox, the owner opens the (empty) list of recordings; a guest in Chromium has no button', async () => {
  const owner = await join(parley.base, 'listed', 'fern', 'firefox');
  people.push(owner);
  await inCall(owner);
  const guest = await join(parley.base, 'listed', 'cid', 'chromium');
  people.push(guest);
  await inCall(guest);
  await waitUntil(() => owner.page.evaluate(() => !document.getElementById('show-recordings')?.hidden), 10_000, () => diagnose([owner]));
  assert.equal(await guest.page.evaluate(() => document.getElementById('show-recordings')?.hidden), true, 'a guest sees the Recordings button');
  await owner.page.click('#show-recordings');
  await waitUntil(() => owner.page.evaluate(() => document.getElementById('recordings')?.open
    && document.getElementById('recordings-status')?.textContent === 'No recordings of this meeting.'), 10_000,
  () => owner.page.evaluate(() => document.getElementById('recordings')?.outerHTML ?? 'no dialog'));
});
