// Browsers in a cascade (issue 16): parley serve places conferences only
// on two `parley bridge` processes and spreads one conference over both
// (--bridge-spread 2), the bridges joined by a relay. A Chromium and a
// Firefox join one room; the test reads which bridge each one is on from
// the bridges' /health (the relay's outgoing tracks are the streams of the
// bridge's own participants), and checks that they are on different
// bridges, that each decodes the other's video at a real frame size and
// plays the other's audio, and that the relay carried each stream: out of
// its publisher's bridge and into the other one, growing. Then the
// Chromium shares a screen: it crosses the relay and the Firefox decodes
// it; stopped, it leaves the relay and the Firefox's session, and the
// camera goes on.
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
/** @type {Record<string, {nick: string, child: import('node:child_process').ChildProcess, health: string, logTail: () => string}>} the bridge each person is on, by name (the first test finds it) */
const home = {};
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
  for (const nick of ['b1', 'b2']) await startBridge(nick);
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

/**
 * videoFrom reads, in rx's page, the frames decoded and frame size of
 * each video track of nick, by msid track id ("screen-p1", "video-p1").
 * @param {import('../lib/browsers.js').Participant} rx
 * @param {string} nick
 * @returns {Promise<Record<string, {frames: number, width: number, height: number}>>}
 */
function videoFrom(rx, nick) {
  return rx.page.evaluate(async (from) => {
    /** @type {Record<string, {frames: number, width: number, height: number}>} */
    const out = {};
    for (const t of /** @type {any} */ (window).parley.call.conference.remote.values()) {
      if (t.nick !== from || t.kind !== 'video' || t.track.readyState !== 'live') continue;
      (await t.receiver.getStats()).forEach((/** @type {any} */ s) => {
        if (s.type === 'inbound-rtp') out[t.trackId] = { frames: s.framesDecoded ?? 0, width: s.frameWidth ?? 0, height: s.frameHeight ?? 0 };
      });
    }
    return out;
  }, nick);
}

test('a screen shared on one bridge crosses the relay and is decoded on the other; stopped, it is withdrawn there', async () => {
  const [cr, ff] = people;
  assert.ok(cr && ff, 'the first test did not set up the call');
  await cr.page.evaluate(async () => {
    // A canvas stands in for the screen: getDisplayMedia needs a person.
    const w = /** @type {any} */ (window);
    const canvas = document.createElement('canvas');
    canvas.width = 1280;
    canvas.height = 720;
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
    let n = 0;
    w.__screenTimer = setInterval(() => {
      ctx.fillStyle = `hsl(${(n * 7) % 360} 60% 50%)`;
      ctx.fillRect(0, 0, 1280, 720);
      ctx.fillStyle = '#fff';
      ctx.font = '64px sans-serif';
      ctx.fillText(`slide ${n++}`, 100, 200);
    }, 100);
    w.__screen = canvas.captureStream(10).getVideoTracks()[0];
    await w.parley.call.shareScreen(w.__screen);
  });
  const screenOf = (/** @type {Record<string, any>} */ v) => Object.keys(v).find((k) => k.startsWith('screen-'));
  /** @type {Record<string, any>} */
  let a = {};
  await waitUntil(async () => {
    const b = await videoFrom(ff, 'cr');
    const id = screenOf(b);
    const ok = id && a[id] && b[id].frames > a[id].frames && b[id].width >= 320;
    a = b;
    if (!ok) await sleep(1000);
    return ok;
  }, 30_000, async () => `ff does not decode cr's screen: ${JSON.stringify(a)}\n${await diagnose(people)}`);
  const screen = /** @type {string} */ (screenOf(a));
  const [from, into] = [bridges.indexOf(home.cr), bridges.indexOf(home.ff)];
  const relays = async () => Promise.all(bridges.map(async (b) => relayed(await json(b.health)).packets));
  const r1 = await relays();
  await sleep(2000);
  const r2 = await relays();
  const dOut = r2[from][`out ${screen}`] - r1[from][`out ${screen}`];
  const dIn = r2[into][`in ${screen}`] - r1[into][`in ${screen}`];
  assert.ok(dOut > 0 && dIn > 0, `${screen}: relayed out of ${home.cr.nick} +${dOut}, into ${home.ff.nick} +${dIn}`);
  console.log(JSON.stringify({ measure: 'cascade-screen', track: screen, size: `${a[screen].width}x${a[screen].height}`, out2s: dOut, in2s: dIn }));

  await cr.page.evaluate(async () => {
    const w = /** @type {any} */ (window);
    await w.parley.call.stopScreenShare();
    clearInterval(w.__screenTimer);
    w.__screen.stop();
  });
  await waitUntil(async () => !screenOf(await videoFrom(ff, 'cr')), 20_000, async () => `ff still has cr's screen: ${await diagnose(people)}`);
  await waitUntil(async () => (await Promise.all(bridges.map(async (b) => relayed(await json(b.health)).entries)))
    .every((e) => !e[`out ${screen}`] && !e[`in ${screen}`]), 10_000, () => `the relay still carries ${screen}`);
  const cam = await videoFrom(ff, 'cr');
  await sleep(1000);
  const cam2 = await videoFrom(ff, 'cr');
  const camera = Object.keys(cam2).find((k) => k.startsWith('video-')) ?? '';
  assert.ok(cam[camera] && cam2[camera].frames > cam[camera].frames, `ff lost cr's camera with the screen: ${JSON.stringify(cam)} -> ${JSON.stringify(cam2)}`);
});
