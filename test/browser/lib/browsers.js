// Launches headless Chromium and Firefox ESR with fake camera and
// microphone (see /work/shared/browser-testing.md), opens parley pages in
// them and reads WebRTC statistics through the page's window.parley hook.
import puppeteer from 'puppeteer-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sleep } from './parley.js';

const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX_BIN ?? '/usr/bin/firefox-esr';

const chromiumArgs = [
  '--no-sandbox', '--disable-gpu', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  '--autoplay-policy=no-user-gesture-required',
  // Background tabs and occluded windows must not throttle the call.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
];

const firefoxPrefs = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'media.autoplay.default': 0,
  // parley listens on 127.0.0.1 here: Firefox must pair with loopback
  // candidates and must give the SFU real host addresses, not mDNS names
  // (Pion cannot resolve those on this machine).
  'media.peerconnection.ice.loopback': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
};

/**
 * @typedef {object} LaunchOptions
 * @property {import('./netns.js').ClientNetns} [netns] run the browser in this
 *   namespace (default: the test's own); Chromium is then driven over a pipe
 * @property {boolean} [insecureCerts] accept parley's self-signed or
 *   test-made certificate, for HTTPS and (Chromium) TURN over TLS; default false
 * @property {string} [lang] the browser's language, e.g. 'fr-FR' (navigator.languages);
 *   default the browser's own
 * @property {boolean} [speakers] give Firefox an audio output (an ALSA null device): on a
 *   machine without one it cannot play any sound (media elements fail with
 *   OnMediaSinkAudioError once a microphone is open). Chromium plays without one.
 * @property {string} [microphone] (Chromium) a WAV file the fake microphone plays in a
 *   loop instead of its beeps; Firefox's fake microphone is a steady tone
 */

/**
 * nullSpeakers writes an ALSA configuration whose default output discards
 * the sound, in a folder of its own that the caller removes (rmSync(dir)).
 */
function nullSpeakers() {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-alsa-'));
  const file = path.join(dir, 'asound.conf');
  writeFileSync(file, 'pcm.!default { type null }\n');
  return { dir, file };
}

/**
 * launch starts one browser. A browser that cannot start fails the test.
 * @param {'chromium'|'firefox'} kind
 * @param {LaunchOptions} [opts]
 */
export async function launch(kind, opts = {}) {
  const insecure = opts.insecureCerts ? { acceptInsecureCerts: true } : {};
  if (kind === 'firefox') {
    const executablePath = opts.netns ? opts.netns.browserExecutable('firefox', FIREFOX) : FIREFOX;
    const langPrefs = opts.lang ? { 'intl.accept_languages': `${opts.lang}, ${opts.lang.split('-')[0]}` } : {};
    const alsa = opts.speakers ? nullSpeakers() : null;
    const env = alsa ? { env: { ...process.env, ALSA_CONFIG_PATH: alsa.file } } : {};
    const removeAlsa = () => {
      if (alsa) rmSync(alsa.dir, { recursive: true, force: true });
    };
    let browser;
    try {
      browser = await puppeteer.launch({ browser: 'firefox', executablePath, headless: true, extraPrefsFirefox: { ...firefoxPrefs, ...langPrefs }, protocolTimeout: 120_000, ...insecure, ...env });
    } catch (err) {
      removeAlsa();
      throw err;
    }
    // The folder lives as long as the browser that reads it.
    browser.once('disconnected', removeAlsa);
    return browser;
  }
  const executablePath = opts.netns ? opts.netns.browserExecutable('chromium', CHROMIUM) : CHROMIUM;
  const args = opts.insecureCerts ? [...chromiumArgs, '--ignore-certificate-errors'] : [...chromiumArgs];
  if (opts.lang) args.push(`--lang=${opts.lang}`, `--accept-lang=${opts.lang},${opts.lang.split('-')[0]}`);
  if (opts.microphone) args.push(`--use-file-for-fake-audio-capture=${opts.microphone}`);
  return puppeteer.launch({ executablePath, headless: true, args, protocolTimeout: 120_000, pipe: Boolean(opts.netns), ...insecure });
}

/**
 * @typedef {object} Participant
 * @property {string} name
 * @property {'chromium'|'firefox'} kind
 * @property {import('puppeteer-core').Browser} browser
 * @property {import('puppeteer-core').Page} page
 * @property {number} openedAt performance.now() before navigation
 * @property {string[]} console the page's console and errors
 */

/**
 * join opens ROOM in a new browser as NAME, straight into the call.
 * @param {string} base e.g. http://127.0.0.1:PORT
 * @param {string} room
 * @param {string} name
 * @param {'chromium'|'firefox'} kind
 * @param {LaunchOptions & {query?: string, preload?: () => void}} [opts] query: more page URL
 *   parameters, e.g. 'ice=relay&turn=tcp'; preload: runs in the page before its own
 *   scripts (e.g. to wrap getUserMedia)
 * @returns {Promise<Participant>}
 */
export async function join(base, room, name, kind, opts = {}) {
  const browser = await launch(kind, opts);
  const page = await browser.newPage();
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  if (opts.preload) await page.evaluateOnNewDocument(opts.preload);
  const openedAt = performance.now();
  const more = opts.query ? `&${opts.query}` : '';
  await page.goto(`${base}/${room}?name=${encodeURIComponent(name)}&join=1${more}`);
  return { name, kind, browser, page, openedAt, console: log };
}

/**
 * @typedef {{audioPackets: number, videoFrames: number, videoPackets: number, videoDetail?: object}} Counters
 *   videoDetail: the last video inbound-rtp's frames received, dropped and
 *   keyframes decoded, packets lost, NACKs, PLIs and frame height, for
 *   failure messages (frames that never assemble look unlike lost packets)
 * @typedef {Record<string, Counters>} Sample counters by remote nick
 */

/**
 * sample reads, for every remote participant the page knows, inbound-rtp
 * audio packetsReceived and video framesDecoded from getStats().
 * @param {Participant} p
 * @returns {Promise<Sample>}
 */
export async function sample(p) {
  return p.page.evaluate(async () => {
    const hook = /** @type {any} */ (window).parley;
    const out = {};
    if (!hook) return out;
    for (const [nick, entry] of hook.participants) {
      const c = { audioPackets: 0, videoFrames: 0, videoPackets: 0 };
      for (const r of entry.receivers) {
        const stats = await r.getStats();
        stats.forEach((s) => {
          if (s.type !== 'inbound-rtp') return;
          if (s.kind === 'audio') c.audioPackets += s.packetsReceived ?? 0;
          if (s.kind === 'video') {
            c.videoFrames += s.framesDecoded ?? 0;
            c.videoPackets += s.packetsReceived ?? 0;
            // For failure messages: why frames did not decode.
            c.videoDetail = { rx: s.framesReceived, drop: s.framesDropped, key: s.keyFramesDecoded, lost: s.packetsLost,
              nack: s.nackCount, pli: s.pliCount, h: s.frameHeight };
          }
        });
      }
      out[nick] = c;
    }
    return out;
  });
}

/**
 * waitUntil polls fn until it returns a truthy value, or fails with what
 * describe() says after timeoutMs. It is a liveness bound, not a speed check.
 * @template T
 * @param {() => Promise<T>} fn
 * @param {number} timeoutMs
 * @param {() => Promise<string>|string} describe
 * @returns {Promise<T>}
 */
export async function waitUntil(fn, timeoutMs, describe) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > end) throw new Error(`gave up after ${timeoutMs} ms: ${await describe()}`);
    await sleep(250);
  }
}

/**
 * receivingFrom reports whether p decodes video and receives audio from
 * every one of the named peers.
 * @param {Sample} s
 * @param {string[]} from
 * @param {Set<string>} [packetOnly] senders whose video counts by packets
 */
export function receivingFrom(s, from, packetOnly = new Set()) {
  return from.every((n) => s[n] && (packetOnly.has(n) ? s[n].videoPackets : s[n].videoFrames) > 0 && s[n].audioPackets > 0);
}

/**
 * mesh says that every participant must receive every other one.
 * @param {string[]} receivers
 * @param {string[]} [senders] default the receivers
 * @returns {Map<string, string[]>}
 */
export function mesh(receivers, senders = receivers) {
  return new Map(receivers.map((r) => [r, senders.filter((s) => s !== r)]));
}

/**
 * waitForMedia waits until every receiver gets audio and decodes video from
 * each expected sender. It returns, per receiver, the ms from opening its
 * page to its first decoded remote frame (a measurement).
 * @param {Participant[]} ps
 * @param {Map<string, string[]>} expected
 * @param {number} timeoutMs
 * @param {Set<string>} [packetOnly]
 */
export async function waitForMedia(ps, expected, timeoutMs, packetOnly = new Set()) {
  const firstFrame = new Map();
  let last = new Map();
  await waitUntil(async () => {
    last = await sampleAll(ps);
    const now = performance.now();
    for (const p of ps) {
      const s = last.get(p.name) ?? {};
      if (!firstFrame.has(p.name) && Object.values(s).some((c) => c.videoFrames > 0)) firstFrame.set(p.name, Math.round(now - p.openedAt));
    }
    return ps.every((p) => receivingFrom(last.get(p.name) ?? {}, expected.get(p.name) ?? [], packetOnly));
  }, timeoutMs, async () => `media incomplete: ${JSON.stringify(Object.fromEntries(last))}\n${await diagnose(ps)}`);
  return firstFrame;
}

/**
 * growth lists every (receiver, sender) pair whose counters did not grow
 * between two rounds of samples; empty means all media flowed.
 * @param {Map<string, Sample>} before by receiver name
 * @param {Map<string, Sample>} after
 * @param {Map<string, string[]>} expected senders each receiver must get
 * @param {Set<string>} [packetOnly] senders whose video is not decodable (synthetic):
 *   their video counts by packets, not frames
 */
export function stalled(before, after, expected, packetOnly = new Set()) {
  const bad = [];
  for (const [rx, senders] of expected) {
    for (const tx of senders) {
      const a = before.get(rx)?.[tx];
      const b = after.get(rx)?.[tx];
      if (!a || !b) {
        bad.push(`${rx} has no stats for ${tx}`);
        continue;
      }
      const video = packetOnly.has(tx) ? ['videoPackets', b.videoPackets - a.videoPackets] : ['videoFrames', b.videoFrames - a.videoFrames];
      if (b.audioPackets <= a.audioPackets) bad.push(`${rx} <- ${tx}: audio packets ${a.audioPackets} -> ${b.audioPackets}`);
      if (video[1] <= 0) bad.push(`${rx} <- ${tx}: ${video[0]} did not grow (${JSON.stringify(a)} -> ${JSON.stringify(b)})`);
    }
  }
  return bad;
}

/**
 * stalledOver samples every participant twice, ms apart, and lists what
 * did not grow in between (see stalled); empty means all media flowed.
 * @param {Participant[]} ps
 * @param {Map<string, string[]>} expected
 * @param {number} ms
 */
export async function stalledOver(ps, expected, ms) {
  const before = await sampleAll(ps);
  await sleep(ms);
  return stalled(before, await sampleAll(ps), expected);
}

/**
 * waitFlowing waits until every expected stream grows over one second,
 * failing after timeoutMs with why() and what was still stalled.
 * @param {Participant[]} ps
 * @param {Map<string, string[]>} expected
 * @param {number} timeoutMs
 * @param {(bad: string[]) => Promise<string>|string} why
 */
export async function waitFlowing(ps, expected, timeoutMs, why) {
  let bad = [];
  await waitUntil(async () => {
    bad = await stalledOver(ps, expected, 1000);
    return bad.length === 0;
  }, timeoutMs, () => why(bad));
}

/**
 * sampleAll samples every participant.
 * @param {Participant[]} ps
 * @returns {Promise<Map<string, Sample>>}
 */
export async function sampleAll(ps) {
  const entries = await Promise.all(ps.map(async (p) => [p.name, await sample(p)]));
  return new Map(entries);
}

/**
 * closeAll closes every browser, ignoring ones already gone.
 * @param {Participant[]} ps
 */
export async function closeAll(ps) {
  await Promise.all(ps.map((p) => p.browser.close().catch(() => {})));
}

/**
 * diagnose describes the state of each page for a failure message.
 * @param {Participant[]} ps
 */
export async function diagnose(ps) {
  const parts = [];
  for (const p of ps) {
    const st = await p.page
      .evaluate(() => {
        const hook = /** @type {any} */ (window).parley;
        if (!hook) return 'no window.parley';
        return JSON.stringify({ status: hook.status, pc: hook.pc?.connectionState, participants: [...hook.participants.keys()] });
      })
      .catch((e) => `page unreadable: ${e.message}`);
    parts.push(`${p.name} (${p.kind}): ${st}; console: ${p.console.slice(-5).join(' | ')}`);
  }
  return parts.join('\n');
}

/**
 * @typedef {object} SelectedPair the ICE candidate pair media uses, from getStats()
 * @property {string} localType host, srflx, prflx or relay
 * @property {string} localProtocol udp or tcp
 * @property {string} [relayProtocol] udp, tcp or tls, for a relay candidate
 * @property {string} remoteProtocol
 * @property {string} remoteAddress
 * @property {number} remotePort
 * @property {string} state the pair's state
 */

/**
 * selectedPair reads the selected candidate pair of the page's current
 * peer connection (window.parley.pc): the one the transport report names,
 * else (Firefox) the pair marked selected, else a nominated succeeded one.
 * @param {Participant} p
 * @returns {Promise<SelectedPair|null>}
 */
export async function selectedPair(p) {
  return p.page.evaluate(async () => {
    const pc = /** @type {any} */ (window).parley?.pc;
    if (!pc) return null;
    const stats = await pc.getStats();
    const all = [...stats.values()];
    const ids = all.filter((s) => s.type === 'transport' && s.selectedCandidatePairId).map((s) => s.selectedCandidatePairId);
    const pairs = all.filter((s) => s.type === 'candidate-pair');
    const pair = pairs.find((s) => ids.includes(s.id)) ?? pairs.find((s) => s.selected) ?? pairs.find((s) => s.nominated && s.state === 'succeeded');
    if (!pair) return null;
    const local = stats.get(pair.localCandidateId) ?? {};
    const remote = stats.get(pair.remoteCandidateId) ?? {};
    return {
      localType: local.candidateType, localProtocol: local.protocol, relayProtocol: local.relayProtocol,
      remoteProtocol: remote.protocol, remoteAddress: remote.address ?? remote.ip, remotePort: remote.port, state: pair.state,
    };
  });
}
