// Phones in a call with Chromium and Firefox: a real SIP user agent
// (baresip, headless, a 500 Hz tone from a WAV file, driven over its ctrl_tcp
// module) dials parley's SIP gateway (a parley built with -tags sip).
//  - Through the IVR: it dials sip:join@, and only once it types the room's
//    PIN (from the admin API's dial-in endpoint) as RFC 4733 DTMF does it
//    appear in the room; both browsers' getStats show its audio arriving and
//    growing, and its recording holds the browsers' fake microphone tone (the
//    phone never hears itself, so a steady tone in its recording comes from
//    the browsers).
//  - Directly: a second phone dials sip:ROOM@ and the browsers hear it.
//  - From the web client: both browsers' invite dialogs show the dial-in
//    number and the PIN the admin API reports; the moderator (Chromium)
//    calls a busy callee (sipp) and is told so, then calls a baresip that
//    answers: the phone joins with a phone icon on its tile and in the
//    People list, both browsers hear it, and once the moderator mutes it
//    from the People list neither hears it any more.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startParley, sleep } from '../lib/parley.js';
import { join, sample, closeAll, waitUntil } from '../lib/browsers.js';

const ROOM = 'phones';
const IVR_CALLER = '+4915112345678';
const IVR_PHONE = 'Phone ***5678'; // the gateway's masked caller ID of IVR_CALLER
const DIRECT_CALLER = '+4917087654321';
const DIRECT_PHONE = 'Phone ***4321';
const CALLEE = '4930555123'; // the number the moderator dials from the web client
const CALLEE_PHONE = 'Phone ***5123';
const DIAL_IN_NUMBER = '+33 1 23 45 67 89';
const MAX_CALL_SECONDS = 90; // baresip's own cap (-t); the test hangs up long before
const ADMIN_TOKEN = 'admin-token-for-the-sip-phone-test';
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
  // Its loudness swells and fades three times a second, as a voice's does:
  // the gateway's Opus encoder has DTX on, and libopus takes a steady tone
  // for background noise within seconds.
  for (let i = 0; i < n; i++) {
    const t = i / 8000;
    b.writeInt16LE(Math.round(8000 * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t)) * Math.sin(2 * Math.PI * freq * t)), 44 + 2 * i);
  }
  writeFileSync(file, b);
}

/**
 * ctrlClient speaks baresip's ctrl_tcp protocol (netstrings of JSON) on port:
 * command() sends a menu command and resolves with its response (send() does
 * not wait for one); event(type)
 * resolves at the first event of that type (events since the connection).
 */
async function ctrlClient(port) {
  let sock;
  for (let i = 0; !sock; i++) {
    try {
      sock = await new Promise((resolve, reject) => {
        const c = connect(port, '127.0.0.1');
        c.once('connect', () => resolve(c));
        c.once('error', reject);
      });
    } catch (err) {
      if (i >= 100) throw new Error(`baresip's ctrl_tcp on ${port}: ${err.message}`);
      await sleep(100);
    }
  }
  const seen = [];
  const waiting = [];
  let buf = Buffer.alloc(0);
  sock.on('error', () => {}); // baresip quitting; the exit status tells
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const colon = buf.indexOf(':');
      const n = Number(buf.subarray(0, colon));
      if (colon < 0 || buf.length < colon + n + 2) break;
      const msg = JSON.parse(String(buf.subarray(colon + 1, colon + 1 + n)));
      buf = buf.subarray(colon + n + 2);
      seen.push(msg);
      for (const w of waiting.filter((w) => w.match(msg))) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(msg);
      }
    }
  });
  const when = (match) => {
    const old = seen.find(match);
    return old ? Promise.resolve(old) : new Promise((resolve) => waiting.push({ match, resolve }));
  };
  let tokens = 0;
  const send = (command, params, token) => {
    const json = JSON.stringify({ command, params, token });
    sock.write(`${Buffer.byteLength(json)}:${json},`);
  };
  return {
    send,
    async command(command, params = '') {
      const token = `t${++tokens}`;
      send(command, params, token);
      const res = await when((m) => m.response && m.token === token);
      if (!res.ok) throw new Error(`baresip /${command} ${params}: ${res.data}`);
      return res;
    },
    event: (type) => when((m) => m.event && m.type === type),
    events: () => seen.filter((m) => m.event).map((m) => m.type),
  };
}

/**
 * startPhone runs baresip as the SIP phone number (sending a 500 Hz tone,
 * recording what it hears) and dials uri through its ctrl_tcp module, or with
 * uri '' answers the first call by itself (its address is then the result's
 * uri); established resolves when the call is up, hangUp ends it and
 * resolves with the recording's path. The call lasts at most MAX_CALL_SECONDS.
 */
async function startPhone(name, number, uri) {
  const dir = path.join(work, name);
  const out = path.join(dir, 'out');
  mkdirSync(out, { recursive: true });
  wav(path.join(dir, 'in.wav'), 500, MAX_CALL_SECONDS + 5);
  const ctrlPort = await freePort();
  const sipListen = await freePort();
  writeFileSync(path.join(dir, 'config'), [
    'poll_method epoll', `sip_listen 127.0.0.1:${sipListen}`,
    'audio_player aubridge,nil', `audio_source aufile,${path.join(dir, 'in.wav')}`, 'audio_alert aubridge,nil',
    'module_path /usr/lib/baresip/modules', 'module g711.so', 'module aufile.so', 'module aubridge.so',
    'module sndfile.so', 'module menu.so', 'module_app account.so', 'module_app ctrl_tcp.so',
    `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`, `snd_path ${out}`, ''].join('\n'));
  const answer = uri ? '' : ';answermode=auto';
  writeFileSync(path.join(dir, 'accounts'), `<sip:${number}@127.0.0.1>;regint=0;audio_codecs=PCMU${answer}\n`);
  const child = spawn('baresip', ['-f', dir, '-t', String(MAX_CALL_SECONDS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const logs = [];
  child.stdout.on('data', (d) => logs.push(String(d)));
  child.stderr.on('data', (d) => logs.push(String(d)));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const ctrl = await ctrlClient(ctrlPort);
  const log = () => `baresip events ${ctrl.events().join(' ')}\n${logs.join('').replace(/\[\d+:\d+:\d+\] audio=[^\n]*?\(bit\/s\)\s*/g, '').slice(-1500)}`;
  if (uri) await ctrl.command('dial', uri);
  return {
    uri: `sip:${number}@127.0.0.1:${sipListen}`,
    established: ctrl.event('CALL_ESTABLISHED'),
    /** dtmf types digits during the call: RFC 4733 telephone-events. */
    dtmf: (digits) => ctrl.command('sndcode', digits),
    async hangUp() {
      await ctrl.command('hangup');
      await ctrl.event('CALL_CLOSED');
      ctrl.send('quit', '', 'quit'); // baresip may exit before it answers
      const code = await exited;
      const recs = readdirSync(out).filter((f) => f.endsWith('-dec.wav'));
      if (code !== 0 || recs.length !== 1) throw new Error(`baresip exited ${code} with ${recs.length} recordings: ${log()}`);
      return path.join(out, recs[0]);
    },
    kill: () => child.kill('SIGTERM'),
    log,
  };
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
const adminPort = await freePort();
writeFileSync(path.join(work, 'admin-token'), `${ADMIN_TOKEN}\n`);
const parley = await startParley({ bin, args: ['--sip', `127.0.0.1:${sipPort}`,
  '--admin', `127.0.0.1:${adminPort}`, '--admin-token-file', path.join(work, 'admin-token'),
  '--sip-dial-in-number', DIAL_IN_NUMBER] });
const people = [];
const phones = [];
before(async () => {
  people.push(await join(parley.base, ROOM, 'cr', 'chromium'));
  people.push(await join(parley.base, ROOM, 'ff', 'firefox'));
});
after(async () => {
  phones.forEach((p) => p.kill());
  await closeAll(people);
  await parley.stop();
  rmSync(work, { recursive: true, force: true });
});

/** heardFrom is the audio packets each browser has received from nick (-1: nick is not in its room). */
async function heardFrom(nick) {
  return (await Promise.all(people.map(sample))).map((s) => s[nick]?.audioPackets ?? -1);
}

/** hearsGrowing waits until both browsers receive nick's audio, then checks it keeps coming. */
async function hearsGrowing(nick, phone) {
  await waitUntil(async () => (await heardFrom(nick)).every((n) => n > 50), 60_000,
    async () => `the browsers receive ${JSON.stringify(await heardFrom(nick))} packets from ${nick}\n${phone.log()}\n${parley.logTail(15)}`);
  const before = await heardFrom(nick);
  await sleep(3000);
  const later = await heardFrom(nick);
  people.forEach((p, i) => assert.ok(later[i] > before[i] + 50, `${p.name}: ${nick}'s audio stalled at ${before[i]} → ${later[i]}`));
  return later;
}

test('a phone that dials the IVR and types the PIN with DTMF is heard by Chromium and Firefox, and hears them', async () => {
  const res = await fetch(`http://127.0.0.1:${adminPort}/api/rooms/${ROOM}/dial-in`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(res.status, 200, `GET dial-in: ${res.status}`);
  const dialIn = await res.json();
  assert.match(dialIn.pin, /^\d{6}$/);
  assert.equal(dialIn.uri, `sip:join@127.0.0.1:${sipPort}`);

  const phone = await startPhone('ivr', IVR_CALLER, dialIn.uri);
  phones.push(phone);
  const timeout = sleep(30_000).then(() => { throw new Error(`the IVR never answered\n${phone.log()}`); });
  timeout.catch(() => {});
  await Promise.race([phone.established, timeout]);
  // Answered by the IVR, not yet in the room: the PIN is what lets it in.
  await sleep(1000);
  assert.deepEqual(await heardFrom(IVR_PHONE), [-1, -1], 'the phone is in the room before it typed the PIN');
  await phone.dtmf(dialIn.pin);
  const received = await hearsGrowing(IVR_PHONE, phone);
  await sleep(5000); // more of the browsers' tone in the phone's recording

  const rec = await phone.hangUp();
  const tone = tonalBlocks(samples16(rec));
  console.log(JSON.stringify({ measure: 'sip-phone-ivr', browsersReceived: received, phoneHeard: tone }));
  assert.ok(tone.blocks >= 30, `the phone's recording holds a tone in only ${tone.blocks} of ${tone.loud} loud 100 ms blocks (best ${tone.freq} Hz)`);
  assert.notEqual(tone.freq, 500, 'the phone heard its own tone');
});

test('a phone that dials sip:ROOM@ joins with no IVR and is heard by Chromium and Firefox', async () => {
  const phone = await startPhone('direct', DIRECT_CALLER, `sip:${ROOM}@127.0.0.1:${sipPort}`);
  phones.push(phone);
  const received = await hearsGrowing(DIRECT_PHONE, phone);
  console.log(JSON.stringify({ measure: 'sip-phone-direct', browsersReceived: received }));
  await phone.hangUp();
});

/** busyCallee runs sipp as a callee that answers 486 Busy Here, once; it resolves with its URI and exit. */
async function busyCallee() {
  const port = await freePort();
  const scenario = path.join(REPO_ROOT, 'internal/sip/testdata/busy.xml');
  const dir = mkdtempSync(path.join(work, 'sipp-'));
  const child = spawn('sipp', ['-sf', scenario, '-i', '127.0.0.1', '-p', String(port), '-mi', '127.0.0.1', '-mp', String(await freePort()),
    '-m', '1', '-nostdin', '-timeout', '60s', '-timeout_error'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', (d) => out.push(String(d)));
  child.stderr.on('data', (d) => out.push(String(d)));
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve({ code, out: out.join('').slice(-1500) })));
  await sleep(300); // sipp binds; the gateway retransmits an INVITE anyway
  return { uri: `sip:200@127.0.0.1:${port}`, exited, kill: () => child.kill('SIGTERM') };
}

/** dialStatus is the invite dialog's dial-out line in p's page. */
function dialStatus(p) {
  return p.page.$eval('#dial-status', (el) => el.textContent ?? '');
}

/** dialFromPage opens p's invite dialog (if need be) and dials to from its form. */
async function dialFromPage(p, to) {
  await p.page.evaluate(() => {
    const d = /** @type {HTMLDialogElement|null} */ (document.getElementById('invite'));
    if (!d?.open) document.getElementById('open-invite')?.click();
  });
  await p.page.waitForSelector('#invite-dial:not([hidden])', { timeout: 20_000 });
  await p.page.$eval('#dial-to', (el, v) => { /** @type {HTMLInputElement} */ (el).value = v; }, to);
  await p.page.click('#dial-call');
}

/** phoneIcons says, in p's page, whether nick's tile and People entry show the phone icon. */
function phoneIcons(p, nick) {
  return p.page.evaluate((n) => {
    const shown = (/** @type {Element|null} */ el) => Boolean(el) && !(/** @type {HTMLElement} */ (el).hidden);
    return {
      tile: shown(document.querySelector(`.tile[data-nick="${CSS.escape(n)}"] .badge.phone`)),
      people: shown(document.querySelector(`#people li[data-nick="${CSS.escape(n)}"] .badge.phone`)),
    };
  }, nick);
}

test('the invite dialog shows the dial-in number and PIN; a moderator dials phones out, sees busy, and mutes the phone that answered', async () => {
  const res = await fetch(`http://127.0.0.1:${adminPort}/api/rooms/${ROOM}/dial-in`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  const { pin, number } = await res.json();
  assert.equal(number, DIAL_IN_NUMBER);
  for (const p of people) {
    await p.page.click('#open-invite');
    await p.page.waitForFunction(() => (document.getElementById('invite-pin')?.textContent ?? '') !== '', { timeout: 20_000 });
    const shown = await p.page.evaluate(() => ({
      pin: document.getElementById('invite-pin')?.textContent,
      how: document.getElementById('invite-phone-how')?.textContent,
      phoneHidden: document.getElementById('invite-phone')?.hidden,
      link: /** @type {HTMLInputElement} */ (document.getElementById('invite-link')).value,
    }));
    assert.equal(shown.pin, pin, `${p.name}'s invite dialog shows PIN ${shown.pin}, the admin API ${pin}`);
    assert.equal(shown.phoneHidden, false);
    assert.ok(shown.how?.includes(DIAL_IN_NUMBER), `${p.name}'s invite dialog says "${shown.how}"`);
    assert.equal(shown.link, `${parley.base}/${ROOM}`);
  }
  // Chromium opened the room: its owner may dial out. Firefox, a guest, sees no dial-out form.
  const [cr, ff] = people;
  assert.equal(await ff.page.$eval('#invite-dial', (el) => /** @type {HTMLElement} */ (el).hidden), true, 'a guest is offered dial-out');

  const busy = await busyCallee();
  await dialFromPage(cr, busy.uri);
  await waitUntil(async () => (await dialStatus(cr)).includes('busy'), 30_000, async () => `the dialler reads "${await dialStatus(cr)}"`);
  assert.equal(await dialStatus(cr), `${busy.uri} is busy.`);
  const sipp = await busy.exited;
  assert.equal(sipp.code, 0, `sipp (busy callee): ${sipp.out}`);

  const phone = await startPhone('callee', CALLEE, '');
  phones.push(phone);
  await dialFromPage(cr, phone.uri);
  await waitUntil(async () => (await dialStatus(cr)).includes('joined'), 40_000,
    async () => `the dialler reads "${await dialStatus(cr)}"\n${phone.log()}\n${parley.logTail(15)}`);
  assert.equal(await dialStatus(cr), `${CALLEE_PHONE} answered and joined the meeting.`);
  await phone.established;
  const received = await hearsGrowing(CALLEE_PHONE, phone);
  for (const p of people) {
    await waitUntil(async () => { const i = await phoneIcons(p, CALLEE_PHONE); return i.tile && i.people; }, 10_000,
      async () => `${p.name}: the phone's icons ${JSON.stringify(await phoneIcons(p, CALLEE_PHONE))}`);
  }
  const notPhone = await phoneIcons(cr, 'ff');
  assert.deepEqual(notPhone, { tile: false, people: false }, 'Firefox is shown as a phone');

  // The moderator mutes the phone from the People list: the SFU stops
  // forwarding it, so neither browser receives its audio any more.
  await cr.page.evaluate(() => document.querySelector('#invite')?.close());
  await cr.page.click('#toggle-people');
  await cr.page.click(`#people li[data-nick="${CALLEE_PHONE}"] button.act-mute`);
  const still = async () => {
    const a = await heardFrom(CALLEE_PHONE);
    await sleep(2000);
    const b = await heardFrom(CALLEE_PHONE);
    return b.map((n, i) => n - a[i]);
  };
  let growth = [];
  await waitUntil(async () => (growth = await still()).every((d) => d === 0), 20_000,
    () => `after the mute the browsers still receive ${JSON.stringify(growth)} packets in 2 s from the phone`);
  const after = await heardFrom(CALLEE_PHONE);
  await sleep(3000);
  const later = await heardFrom(CALLEE_PHONE);
  people.forEach((p, i) => assert.equal(later[i], after[i], `${p.name} still receives the muted phone (${after[i]} → ${later[i]})`));
  console.log(JSON.stringify({ measure: 'sip-phone-dial-out', browsersReceived: received, afterMute: later }));
  await phone.hangUp();
});
