// lastN=2 in a call of five (docs/SIGNALLING.md, "lastN" and "The dominant
// speaker"): parley runs with --last-n 2; a Chromium page, a Firefox page
// and three Pion peers are in the call.
// - Every participant decodes video from exactly two others (the two most
//   recent dominant speakers, then the earliest joiners) and gets audio
//   from all four.
// - When someone else speaks, the set follows: the Firefox page, then a
//   Pion peer, then the Chromium page speak in turn.
// - A page may ask for fewer (call.setReceiveVideo({lastN: 1})), and for
//   the room's again.
// - Pinning someone who has not spoken (the tile's pin button) makes the
//   page decode their video too, on top of the two; unpinning stops it.
// The browsers' audio levels are their own (RFC 6464, measured on what
// they capture): each fake microphone plays a tone (Firefox's own, a WAV
// file in Chromium), and the test keeps its track disabled (silence) until
// that page speaks; the Pion peers send the tone or Opus silence on
// command (test/browser/pionpeers).
// - Both pages show speaker view (the L shortcut): each turn, the server's
//   dominant speaker moves in both, the speaker's tile is the large one in
//   the others' speaker view, and it alone has the speaking outline.
// - Space talks while muted (push-to-talk), in both pages: the other page
//   sees the microphone on while Space is held, muted after.
// Video counts when it grows between two samples: framesDecoded in the
// pages, packets in the Pion peers.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { startPion } from '../lib/pion.js';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { join, waitUntil, diagnose, closeAll, sampleAll, waitForMedia } from '../lib/browsers.js';

const ROOM = 'lastn';
const LAST_N = 2;
const parley = await startParley({ args: ['--last-n', String(LAST_N)] });
const people = [];
let pion = null;
const scratch = mkdtempSync(path.join(tmpdir(), 'parley-lastn-'));
after(async () => {
  await closeAll(people);
  await pion?.stop();
  await parley.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * voice keeps the page's microphone live but silent until
 * window.__voice.speak(true), like someone who listens: the page's own
 * mute still works on top (the track's enabled is the page's wish and the
 * speaker's together). The browser measures and sends the level itself.
 */
function voice() {
  const enabled = Object.getOwnPropertyDescriptor(MediaStreamTrack.prototype, 'enabled');
  const gum = MediaDevices.prototype.getUserMedia;
  const mics = [];
  let speaking = false;
  MediaDevices.prototype.getUserMedia = async function (c) {
    // A steady tone is what noise suppression removes: without it the
    // level the browser sends is the tone's (for the speaking outline).
    if (c && c.audio) c = { ...c, audio: { ...(typeof c.audio === 'object' ? c.audio : {}), noiseSuppression: false, autoGainControl: false } };
    const s = await gum.call(this, c);
    for (const t of s.getAudioTracks()) {
      const mic = { t, wish: true };
      Object.defineProperty(t, 'enabled', {
        configurable: true,
        get: () => mic.wish,
        set: (v) => { mic.wish = v; enabled.set.call(t, v && speaking); },
      });
      enabled.set.call(t, false);
      mics.push(mic);
    }
    return s;
  };
  window.__voice = {
    /** speak turns the voice on or off; it returns how many live microphones that reaches. */
    speak(on) {
      speaking = on;
      const live = mics.filter((m) => m.t.readyState === 'live');
      for (const m of live) enabled.set.call(m.t, m.wish && on);
      return live.length;
    },
  };
}

/** toneWav writes a WAV file of a 440 Hz tone (Chromium's fake microphone plays it in a loop). */
function toneWav() {
  const rate = 48000;
  const n = rate * 2;
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(2 * rate, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + 2 * i);
  const file = path.join(scratch, 'tone.wav');
  writeFileSync(file, b);
  return file;
}

test('lastN=2 in a call of five: video from the two last speakers, audio from all', async () => {
  pion = await startPion({ base: parley.base, room: ROOM, n: 3, prefix: 'p', quiet: true });
  // One at a time, so that the join order (lastN's order before anyone
  // speaks) is p1, p2, p3, cr, ff.
  const cr = await join(parley.base, ROOM, 'cr', 'chromium', { preload: voice, microphone: toneWav() });
  people.push(cr);
  await waitForMedia([cr], new Map([['cr', ['p1', 'p2']]]), 60_000);
  const ff = await join(parley.base, ROOM, 'ff', 'firefox', { preload: voice, speakers: true });
  people.push(ff);
  const pages = [cr, ff];
  const everyone = ['p1', 'p2', 'p3', 'cr', 'ff'];

  // The model: the most recent dominant speakers first, then join order.
  let recent = [];
  const ownN = {}; // what a page asked for itself (setReceiveVideo's lastN), by name
  const pins = {}; // whom a page pinned, by name
  const videoFor = (rx) => {
    const last = [...new Set([...recent, ...everyone])].filter((n) => n !== rx).slice(0, Math.min(LAST_N, ownN[rx] || LAST_N));
    return [...new Set([...last, ...(pins[rx] ?? [])])].sort();
  };
  const audioFor = (rx) => everyone.filter((n) => n !== rx).sort();

  /** flowing samples everyone twice and says, per receiver, whose video and audio grew. */
  const flowing = async () => {
    const [b1, p1] = [await sampleAll(pages), await pion.stats()];
    await sleep(2500);
    const [b2, p2] = [await sampleAll(pages), await pion.stats()];
    const out = {};
    const grew = (a, b, key) => Object.keys(b).filter((n) => (b[n][key] ?? 0) > (a[n]?.[key] ?? 0)).sort();
    for (const p of pages) {
      const a = b1.get(p.name);
      const b = b2.get(p.name);
      out[p.name] = { video: grew(a, b, 'videoFrames'), audio: grew(a, b, 'audioPackets') };
    }
    for (const n of pion.nicks) out[n] = { video: grew(p1[n], p2[n], 'videoPackets'), audio: grew(p1[n], p2[n], 'audioPackets') };
    return out;
  };
  let last = {};
  const follows = async (what) => {
    await waitUntil(async () => {
      last = await flowing();
      return everyone.every((n) => JSON.stringify(last[n]) === JSON.stringify({ video: videoFor(n), audio: audioFor(n) }));
    }, 60_000, async () => {
      const want = Object.fromEntries(everyone.map((n) => [n, { video: videoFor(n), audio: audioFor(n) }]));
      return `${what}: want ${JSON.stringify(want)}\ngot ${JSON.stringify(last)}\n${await diagnose(pages)}\nparley: ${parley.logTail(15)}`;
    });
  };
  const speaker = (p) => p.page.evaluate(() => window.parley.call.dominantSpeaker);

  // Nobody has spoken: the two earliest joiners' video.
  await follows('before anyone speaks');
  for (const p of pages) assert.equal(await speaker(p), '', `${p.name} was told of a dominant speaker before anyone spoke`);

  // Speaker view, with the L shortcut.
  for (const p of pages) {
    await p.page.keyboard.press('l');
    await waitUntil(() => p.page.evaluate(() => window.parley.state.layout === 'speaker' && document.getElementById('grid').classList.contains('speaker-view')), 5000,
      () => `${p.name}: L did not switch to speaker view`);
  }
  /** shown: the large tile of p's speaker view, and the tiles with the speaking outline (others than p's own). */
  const shown = (p) => p.page.evaluate(() => ({
    main: [...document.querySelectorAll('#grid .tile.main')].map((t) => t.dataset.nick),
    speaking: [...document.querySelectorAll('#grid .tile.speaking')].map((t) => t.dataset.nick).filter((n) => n !== ''),
  }));

  /** speak makes nick the only one speaking, and waits for both pages to be told. */
  const speak = async (nick) => {
    for (const p of pages) assert.equal(await p.page.evaluate((on) => window.__voice.speak(on), p.name === nick), 1, `${p.name} has no live microphone`);
    for (const n of pion.nicks) await (n === nick ? pion.speak(n) : pion.quiet(n));
    for (const p of pages) {
      await waitUntil(async () => (await speaker(p)) === nick, 30_000, async () => `${p.name} was not told that ${nick} speaks (it says ${JSON.stringify(await speaker(p))})`);
    }
    for (const p of pages.filter((q) => q.name !== nick)) {
      let got = {};
      await waitUntil(async () => {
        got = await shown(p);
        return JSON.stringify(got) === JSON.stringify({ main: [nick], speaking: [nick] });
      }, 15_000, () => `${p.name}'s speaker view while ${nick} speaks: want ${nick} large and alone outlined, got ${JSON.stringify(got)}`);
    }
    recent = [nick, ...recent.filter((n) => n !== nick)];
  };

  // A measurement, not a check: seconds from the voice starting to every
  // set having followed (the dominant speaker needs 1 s of speech, and the
  // sampling adds 2.5 s or more).
  const followSeconds = {};
  const turn = async (nick) => {
    const t0 = performance.now();
    await speak(nick);
    await follows(`after ${nick} spoke`);
    followSeconds[nick] = Math.round((performance.now() - t0) / 100) / 10;
  };
  // Firefox speaks: everyone else gets ff's video (cr: ff and p1).
  await turn('ff');
  // A Pion peer speaks: p3 and ff for cr, p3 and p1 for ff.
  await turn('p3');
  // Chromium speaks: ff gets cr's video.
  await turn('cr');
  console.log(JSON.stringify({ measure: 'lastn-follows', lastN: LAST_N, followSeconds }));

  // The web client's own setting: Firefox asks for one camera (the last
  // speaker's, cr), then for no limit of its own (the room's two again).
  const ask = async (n) => {
    await ff.page.evaluate((k) => window.parley.call.setReceiveVideo({ lastN: k }), n);
    ownN.ff = n;
  };
  await ask(1);
  await follows('after ff asked for lastN=1');
  await ask(0);
  await follows('after ff asked for no lastN of its own');

  // Pins, with the tiles' pin buttons: cr pins p1 and ff pins p2, who never
  // spoke (cr gets p3 and ff, ff gets cr and p3, from lastN alone).
  const pin = async (p, nick) => {
    const pressed = await p.page.evaluate(async (n) => {
      const button = document.querySelector(`.tile[data-nick="${n}"] .pin`);
      if (!button) return null;
      button.click();
      await new Promise((r) => setTimeout(r, 50));
      return button.getAttribute('aria-pressed');
    }, nick);
    assert.notEqual(pressed, null, `${p.name} has no tile for ${nick} to pin`);
    pins[p.name] = pressed === 'true' ? [nick] : [];
  };
  await pin(cr, 'p1');
  await pin(ff, 'p2');
  assert.deepEqual(pins, { cr: ['p1'], ff: ['p2'] }, 'the pin buttons did not say pressed');
  await follows('after cr pinned p1 and ff pinned p2');
  await pin(cr, 'p1');
  await pin(ff, 'p2');
  assert.deepEqual(pins, { cr: [], ff: [] }, 'the pin buttons did not say unpressed');
  await follows('after cr and ff unpinned');

  // Push-to-talk: muted with M, Space held turns the microphone on for
  // the others, released mutes it again; M unmutes.
  const audioOf = (p, nick) => p.page.evaluate((n) => window.parley.state.members.get(n)?.state.audio ?? null, nick);
  for (const [p, other] of [[cr, ff], [ff, cr]]) {
    const seen = async (want) => waitUntil(async () => (await audioOf(other, p.name)) === want, 15_000,
      async () => `${other.name} sees ${p.name}'s microphone ${await audioOf(other, p.name)}, want ${want}`);
    await p.page.keyboard.press('m');
    await seen('muted');
    await p.page.keyboard.down(' ');
    await seen('on');
    await p.page.keyboard.up(' ');
    await seen('muted');
    await p.page.keyboard.press('m');
    await seen('on');
  }

  for (const p of pages) {
    const errors = p.console.filter((l) => l.startsWith('error:') || l.startsWith('pageerror'));
    assert.deepEqual(errors, [], `${p.name}'s console errors`);
  }
});
