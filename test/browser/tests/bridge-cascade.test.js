// Browsers in a cascade (issue 16): parley serve places conferences only
// on two `parley bridge` processes and spreads one conference over both
// (--bridge-spread 2), the bridges joined by a relay. A Chromium and a
// Firefox join one room; the test reads which bridge each one is on from
// the bridges' /health (the relay's outgoing tracks are the streams of the
// bridge's own participants), and checks that they are on different
// bridges, that each decodes the other's video at a real frame size and
// plays the other's audio, and that the relay carried each stream: out of
// its publisher's bridge and into the other one, growing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, createWriteStream, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startParley, freePort, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, closeAll, diagnose, waitUntil } from '../lib/browsers.js';

const parley = await startParley({ users: { jvb: 'bridge-secret' }, args: ['--local-bridge=false', '--bridge-spread', '2'] });
const dir = mkdtempSync(path.join(tmpdir(), 'parley-cascade-'));
writeFileSync(path.join(dir, 'password'), 'bridge-secret\n');
/** @type {import('../lib/browsers.js').Participant[]} */
const people = [];
/** @type {{nick: string, child: import('node:child_process').ChildProcess, health: string, logTail: () => string}[]} */
const bridges = [];
after(async () => {
  await closeAll(people);
  for (const b of bridges) b.child.kill('SIGKILL');
  await parley.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** startBridge runs `parley bridge` against the test's parley. @param {string} nick */
async function startBridge(nick) {
  const port = await freePort();
  const logPath = path.join(dir, `${nick}.log`);
  const log = createWriteStream(logPath);
  const child = spawn(/** @type {string} */ (process.env.PARLEY_BIN), ['bridge', '--server', `ws://127.0.0.1:${parley.port}/xmpp-websocket`,
    '--domain', 'localhost', '--user', 'jvb', '--password-file', path.join(dir, 'password'),
    '--listen', `127.0.0.1:${port}`, '--public-ip', '127.0.0.1', '--nick', nick], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const b = { nick, child, health: `http://127.0.0.1:${port}/health`, logTail: () => readFileSync(logPath, 'utf8').slice(-3000) };
  bridges.push(b);
  return b;
}

/** json is a URL's JSON, or null when it does not answer. @param {string} url */
async function json(url) {
  try {
    return await (await fetch(url)).json();
  } catch {
    return null;
  }
}

/**
 * relayed sums a bridge's relay packets by "direction track" (e.g.
 * "out video-p1"); entries counts the entries of each.
 * @param {any} h a bridge's /health
 */
function relayed(h) {
  /** @type {Record<string, number>} */
  const packets = {};
  /** @type {Record<string, number>} */
  const entries = {};
  for (const r of h?.relays ?? []) {
    const k = `${r.direction} ${r.track}`;
    packets[k] = (packets[k] ?? 0) + r.packets;
    entries[k] = (entries[k] ?? 0) + 1;
  }
  return { packets, entries };
}

/**
 * received reads what p's page receives from each remote nick: the msid
 * track ids the focus's sources name for it, and its inbound-rtp video
 * frames decoded and frame size, audio samples received and energy.
 * @param {import('../lib/browsers.js').Participant} p
 */
function received(p) {
  return p.page.evaluate(async () => {
    const remote = /** @type {any} */ (window).parley?.call?.conference?.remote;
    /** @type {Record<string, any>} */
    const out = {};
    if (!remote) return out;
    for (const t of remote.values()) {
      if (!t.nick || t.track.readyState !== 'live') continue;
      const o = (out[t.nick] ??= { tracks: [], frames: 0, width: 0, height: 0, samples: 0, energy: 0 });
      o.tracks.push(t.trackId);
      (await t.receiver.getStats()).forEach((/** @type {any} */ s) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') {
          o.frames += s.framesDecoded ?? 0;
          o.width = Math.max(o.width, s.frameWidth ?? 0);
          o.height = Math.max(o.height, s.frameHeight ?? 0);
        } else {
          o.samples += s.totalSamplesReceived ?? 0;
          o.energy += s.totalAudioEnergy ?? 0;
        }
      });
    }
    return out;
  });
}

test('a conference over two bridges: Chromium and Firefox on different bridges see and hear each other through the relay', async () => {
  const [b1, b2] = [await startBridge('b1'), await startBridge('b2')];
  for (const b of bridges) {
    await waitUntil(async () => (await json(b.health))?.xmpp === 'connected', 20_000, () => `${b.nick} never connected:\n${b.logTail()}`);
  }
  await waitUntil(async () => (await json(`${parley.base}/health`))?.bridges === 2, 20_000, () => `the focus never had both bridges:\n${parley.logTail()}`);

  for (const [name, kind] of /** @type {const} */ ([['cr', 'chromium'], ['ff', 'firefox']])) people.push(await join(parley.base, 'cascade', name, kind));
  const expected = mesh(people.map((p) => p.name));
  await waitForMedia(people, expected, 90_000);

  // One conference on each bridge, one person on each.
  const hs = await Promise.all(bridges.map((b) => json(b.health)));
  for (const [i, h] of hs.entries()) {
    assert.equal(h?.conferences, 1, `${bridges[i].nick}'s conferences: ${JSON.stringify(h)}`);
    assert.equal(h?.participants, 1, `${bridges[i].nick}'s participants: ${JSON.stringify(h)}`);
  }
  // Which bridge is whose: the one whose relay sends that person's tracks out.
  const [cr, ff] = people;
  const ids = { cr: (await received(ff)).cr?.tracks ?? [], ff: (await received(cr)).ff?.tracks ?? [] };
  /** @type {Record<string, typeof b1>} */
  const home = {};
  for (const [nick, tracks] of Object.entries(ids)) {
    assert.equal(tracks.length, 2, `${nick}'s tracks as the other receives them: ${tracks}`);
    const on = bridges.filter((b, i) => tracks.every((t) => relayed(hs[i]).entries[`out ${t}`] === 1));
    assert.equal(on.length, 1, `${nick}'s tracks ${tracks} are relayed out by ${on.map((b) => b.nick)}; relays: ${JSON.stringify(hs.map((h) => h?.relays))}`);
    home[nick] = on[0];
  }
  assert.notEqual(home.cr, home.ff, 'both browsers on one bridge');

  // Over three seconds: each decodes the other's video at a real size
  // and receives its audio with sound in it, and the relay's counters for
  // each of those streams grow out of the sender's bridge and into the
  // receiver's.
  const take = async () => ({
    rx: { cr: await received(cr), ff: await received(ff) },
    relays: await Promise.all(bridges.map(async (b) => relayed(await json(b.health)).packets)),
  });
  const before = await take();
  await sleep(3000);
  const after_ = await take();
  for (const [rx, tx] of [['cr', 'ff'], ['ff', 'cr']]) {
    const a = before.rx[rx][tx];
    const b = after_.rx[rx][tx];
    const why = `${rx} <- ${tx}: ${JSON.stringify(a)} -> ${JSON.stringify(b)}\n${await diagnose(people)}`;
    assert.ok(b && b.frames > a.frames, `video frames did not grow: ${why}`);
    assert.ok(b.width >= 160 && b.height >= 120, `frame size ${b.width}x${b.height}: ${why}`);
    assert.ok(b.samples > a.samples, `audio samples did not grow: ${why}`);
    assert.ok(b.energy > a.energy, `no sound in the audio: ${why}`);
    console.log(JSON.stringify({ measure: 'cascade-received-3s', rx, tx, frames: b.frames - a.frames, size: `${b.width}x${b.height}`, samples: b.samples - a.samples }));
    const [out, into] = [bridges.indexOf(home[tx]), bridges.indexOf(home[rx])];
    for (const t of ids[tx]) {
      const dOut = after_.relays[out][`out ${t}`] - before.relays[out][`out ${t}`];
      const dIn = after_.relays[into][`in ${t}`] - before.relays[into][`in ${t}`];
      assert.ok(dOut > 0 && dIn > 0, `${t} (${tx}'s): relayed out of ${home[tx].nick} +${dOut}, into ${home[rx].nick} +${dIn}`);
      console.log(JSON.stringify({ measure: 'cascade-relay-packets-3s', track: t, from: home[tx].nick, out: dOut, in: dIn }));
    }
  }
});
