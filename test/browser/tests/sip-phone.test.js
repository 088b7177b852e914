// A phone in a call with Chromium and Firefox: a real SIP user agent
// (baresip, headless, a 500 Hz tone from a WAV file) dials into parley's SIP
// gateway (a parley built with -tags sip); both browsers' getStats show the
// phone's audio arriving and growing, and the phone's recording holds the
// browsers' fake microphone tone (the phone never hears itself, so a steady
// tone in its recording comes from the browsers).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startParley, sleep } from '../lib/parley.js';
import { join, sample, closeAll, waitUntil } from '../lib/browsers.js';

const ROOM = 'phones';
const PHONE = 'Phone ***5678'; // the gateway's masked caller ID of +4915112345678
const CALL_SECONDS = 40;
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const work = mkdtempSync(path.join(tmpdir(), 'parley-sip-'));

/** sipParley returns PARLEY_SIP_BIN or builds parley with the SIP gateway (cgo, libopus). */
function sipParley() {
  if (process.env.PARLEY_SIP_BIN) return process.env.PARLEY_SIP_BIN;
  const bin = path.join(work, 'parley-sip');
  execFileSync('go', ['build', '-tags', 'sip,nolibopusfile', '-o', bin, './cmd/parley'], { cwd: REPO_ROOT, stdio: 'inherit' });
  return bin;
}

/** @returns {Promise<number>} a free port on 127.0.0.1 (TCP; the gateway takes UDP too) */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

/** wav writes seconds of a sine at freq, 8 kHz 16-bit mono. */
function wav(file, freq, seconds) {
  const n = 8000 * seconds;
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * freq * i) / 8000)), 44 + 2 * i);
  writeFileSync(file, b);
}

/** startPhone runs baresip calling uri for CALL_SECONDS; done resolves with its recording's path. */
async function startPhone(uri) {
  const dir = path.join(work, 'baresip');
  const out = path.join(dir, 'out');
  mkdirSync(out, { recursive: true });
  wav(path.join(dir, 'in.wav'), 500, CALL_SECONDS + 5);
  writeFileSync(path.join(dir, 'config'), [
    'poll_method epoll', `sip_listen 127.0.0.1:${await freePort()}`,
    'audio_player aubridge,nil', `audio_source aufile,${path.join(dir, 'in.wav')}`, 'audio_alert aubridge,nil',
    'module_path /usr/lib/baresip/modules', 'module g711.so', 'module aufile.so', 'module aubridge.so',
    'module sndfile.so', 'module menu.so', 'module_app account.so', `snd_path ${out}`, ''].join('\n'));
  writeFileSync(path.join(dir, 'accounts'), '<sip:+4915112345678@127.0.0.1>;regint=0;audio_codecs=PCMU\n');
  const child = spawn('baresip', ['-f', dir, '-e', `/dial ${uri}`, '-t', String(CALL_SECONDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  child.stdout.on('data', (d) => logs.push(String(d)));
  child.stderr.on('data', (d) => logs.push(String(d)));
  const done = new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      const recs = readdirSync(out).filter((f) => f.endsWith('-dec.wav'));
      if (code !== 0 || recs.length !== 1) reject(new Error(`baresip exited ${code} with ${recs.length} recordings: ${logs.join('').slice(-1500)}`));
      else resolve(path.join(out, recs[0]));
    });
  });
  return { done, kill: () => child.kill('SIGTERM'), log: () => logs.join('').slice(-1500) };
}

/** samples16 reads a 16-bit mono WAV file's samples. */
function samples16(file) {
  const b = readFileSync(file);
  const at = b.indexOf('data') + 8;
  const out = new Int16Array((b.length - at) >> 1);
  for (let i = 0; i < out.length; i++) out[i] = b.readInt16LE(at + 2 * i);
  return out;
}

/** toneFrac is the share of x's energy at freq (Goertzel): 1 for a pure tone at freq. */
function toneFrac(x, freq) {
  const c = 2 * Math.cos((2 * Math.PI * freq) / 8000);
  let s1 = 0, s2 = 0, energy = 0;
  for (const v of x) {
    [s1, s2] = [v + c * s1 - s2, s1];
    energy += v * v;
  }
  return energy === 0 ? 0 : (2 * (s1 * s1 + s2 * s2 - c * s1 * s2)) / (x.length * energy);
}

/** tonalBlocks finds the frequency (100-3500 Hz, 10 Hz steps) that most 100 ms blocks are a tone at. */
function tonalBlocks(x) {
  const blocks = [];
  for (let i = 0; i + 800 <= x.length; i += 800) {
    const b = x.subarray(i, i + 800);
    let e = 0;
    for (const v of b) e += v * v;
    if (Math.sqrt(e / 800) > 100) blocks.push(b);
  }
  let best = { freq: 0, blocks: 0, loud: blocks.length };
  for (let f = 100; f <= 3500; f += 10) {
    const n = blocks.filter((b) => toneFrac(b, f) > 0.5).length;
    if (n > best.blocks) best = { freq: f, blocks: n, loud: blocks.length };
  }
  return best;
}

const bin = sipParley();
const sipPort = await freePort();
const parley = await startParley({ bin, args: ['--sip', `127.0.0.1:${sipPort}`] });
const people = [];
let phone = null;
after(async () => {
  phone?.kill();
  await closeAll(people);
  await parley.stop();
  rmSync(work, { recursive: true, force: true });
});

test('a phone dialled in is heard by Chromium and Firefox, and hears them', async () => {
  people.push(await join(parley.base, ROOM, 'cr', 'chromium'));
  people.push(await join(parley.base, ROOM, 'ff', 'firefox'));
  phone = await startPhone(`sip:${ROOM}@127.0.0.1:${sipPort}`);
  const heard = async () => (await Promise.all(people.map(sample))).map((s) => s[PHONE]?.audioPackets ?? 0);
  await waitUntil(async () => (await heard()).every((n) => n > 50), 60_000,
    async () => `the browsers receive ${JSON.stringify(await heard())} packets from the phone\n${phone.log()}`);
  const before = await heard();
  await sleep(3000);
  const later = await heard();
  people.forEach((p, i) => assert.ok(later[i] > before[i] + 50, `${p.name}: the phone's audio stalled at ${before[i]} → ${later[i]}`));

  const rec = await phone.done;
  const tone = tonalBlocks(samples16(rec));
  console.log(JSON.stringify({ measure: 'sip-phone', browsersReceived: later, phoneHeard: tone }));
  assert.ok(tone.blocks >= 30, `the phone's recording holds a tone in only ${tone.blocks} of ${tone.loud} loud 100 ms blocks (best ${tone.freq} Hz)`);
  assert.notEqual(tone.freq, 500, 'the phone heard its own tone');
});
