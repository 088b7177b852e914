// Where a browser's join time goes (issue 20, "Join time"): from the page
// being opened to the first remote video frame decoded, step by step.
// Not a test: it asserts nothing and prints figures (docs/BENCHMARKS.md).
//
//   scripts/bench-join.sh [ROUNDS]          (builds parley, runs this)
//   PARLEY_BIN=... node bench/join-time.js [ROUNDS]
//
// A Chromium publisher sits in a room. Each round opens a fresh browser
// context (no HTTP cache, no cookies) in an already running Chromium or
// Firefox, loads the room straight into the call, and records, with the
// page's own clock (0 = navigation start), when each step first happens:
// the page's load, the WebSocket, SASL, the MUC join, the focus's offer,
// getUserMedia, the answer, ICE, DTLS, the first RTP packet and the first
// decoded frame. The hooks wrap WebSocket, getUserMedia and
// RTCPeerConnection from outside the web client (evaluateOnNewDocument):
// nothing in web/static is changed for the measurement. RTP and frame
// times come from getStats polled every 10 ms from the track's arrival.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startParley, makeCert, sleep } from '../lib/parley.js';
import { launch, join, closeAll } from '../lib/browsers.js';

const ROUNDS = Number(process.argv[2] ?? 8);
const ROOM = 'jointime';

/** hooks runs in each measured page before its scripts. */
function hooks() {
  const w = /** @type {any} */ (window);
  const marks = {};
  w.__joinMarks = marks;
  const mark = (name) => { if (!(name in marks)) marks[name] = performance.now(); };
  const NativeWS = window.WebSocket;
  const inbound = [
    ['<success', 'sasl-success'], ['urn:ietf:params:xml:ns:xmpp-bind', 'bind-result'],
    ['code="110"', 'muc-joined'], ["code='110'", 'muc-joined'], ['session-initiate', 'offer-received'],
  ];
  const outbound = [['<auth', 'sasl-start'], ['<authenticate', 'sasl-start'], ['http://jabber.org/protocol/muc"', 'muc-join-sent'],
    ['http://jabber.org/protocol/muc\'', 'muc-join-sent'], ['session-accept', 'answer-sent'], ['transport-info', 'candidate-sent']];
  class TimedWS extends NativeWS {
    constructor(...args) {
      mark('ws-new');
      super(...args);
      this.addEventListener('open', () => mark('ws-open'));
      this.addEventListener('message', (e) => {
        mark('ws-first-message');
        if (typeof e.data !== 'string') return;
        for (const [s, m] of inbound) if (e.data.includes(s)) mark(m);
        // The focus's disco#info probe of the newcomer (the MUC join's own
        // disco answers are results, not gets).
        if (e.data.includes('disco#info') && /type=["']get/.test(e.data)) mark('disco-probe');
      });
    }
    send(data) {
      if (typeof data === 'string') {
        for (const [s, m] of outbound) if (data.includes(s)) mark(m);
        if (data.includes('disco#info') && /type=["']result/.test(data)) mark('disco-answered');
      }
      return super.send(data);
    }
  }
  window.WebSocket = TimedWS;
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = async (c) => {
    mark('gum-start');
    const s = await gum(c);
    mark('gum-done');
    return s;
  };
  const NativePC = window.RTCPeerConnection;
  class TimedPC extends NativePC {
    constructor(...args) {
      mark('pc-new');
      super(...args);
      this.addEventListener('iceconnectionstatechange', () => mark(`ice-${this.iceConnectionState}`));
      this.addEventListener('connectionstatechange', () => mark(`pc-${this.connectionState}`));
      this.addEventListener('icegatheringstatechange', () => mark(`gathering-${this.iceGatheringState}`));
      this.addEventListener('track', (e) => {
        if (e.track.kind !== 'video') return;
        mark('video-track');
        const poll = setInterval(async () => {
          (await this.getStats(e.track)).forEach((s) => {
            if (s.type !== 'inbound-rtp') return;
            if (s.packetsReceived > 0) mark('first-rtp');
            if (s.framesDecoded > 0) { mark('first-frame'); clearInterval(poll); }
          });
        }, 10);
      });
    }
    async setRemoteDescription(d) {
      mark('srd-start');
      const r = await super.setRemoteDescription(d);
      mark('srd-done');
      return r;
    }
    async createAnswer(...a) {
      const r = await super.createAnswer(...a);
      mark('answer-created');
      return r;
    }
    async setLocalDescription(...a) {
      const r = await super.setLocalDescription(...a);
      mark('sld-done');
      return r;
    }
  }
  window.RTCPeerConnection = TimedPC;
  addEventListener('DOMContentLoaded', () => mark('dom-content-loaded'));
  addEventListener('load', () => mark('page-load'));
}

// The steps in the order a join goes through them, for the table.
const STEPS = ['html-response', 'scripts-loaded', 'i18n-loaded', 'config-loaded', 'dom-content-loaded', 'page-load', 'ws-new', 'ws-open', 'sasl-start', 'sasl-success', 'bind-result',
  'muc-join-sent', 'muc-joined', 'disco-probe', 'disco-answered', 'gum-start', 'gum-done', 'offer-received', 'pc-new', 'srd-start', 'srd-done',
  'answer-created', 'sld-done', 'answer-sent', 'gathering-complete', 'ice-checking', 'ice-connected', 'pc-connected',
  'video-track', 'first-rtp', 'first-frame'];

/**
 * round opens the room once in a fresh context of browser and returns its
 * marks (ms since navigation start).
 * @param {import('puppeteer-core').Browser} browser
 * @param {string} base
 * @param {string} name
 */
async function round(browser, base, name) {
  const ctx = await browser.createBrowserContext();
  try {
    const page = await ctx.newPage();
    await page.evaluateOnNewDocument(hooks);
    await page.goto(`${base}/${ROOM}?name=${name}&join=1${process.env.JOIN_QUERY ?? ""}`);
    for (let i = 0; i < 300; i++) {
      const marks = await page.evaluate(() => /** @type {any} */ (window).__joinMarks ?? {});
      if ('first-frame' in marks) {
        // The page's own load, from the browser's timing entries: the
        // HTML's response, the last script's, and the i18n file's.
        const timing = await page.evaluate(() => {
          const nav = /** @type {PerformanceNavigationTiming} */ (performance.getEntriesByType('navigation')[0]);
          const res = /** @type {PerformanceResourceTiming[]} */ (performance.getEntriesByType('resource'));
          const end = (/** @type {(r: PerformanceResourceTiming) => boolean} */ f) => Math.max(0, ...res.filter(f).map((r) => r.responseEnd));
          return {
            'html-response': nav?.responseEnd, 'scripts-loaded': end((r) => r.name.endsWith('.js')),
            'i18n-loaded': end((r) => r.name.includes('/i18n/')), scripts: res.filter((r) => r.name.endsWith('.js')).length,
            'config-loaded': end((r) => r.name.endsWith('/config.json')), configs: res.filter((r) => r.name.endsWith('/config.json')).length,
          };
        });
        return { ...marks, ...timing };
      }
      await sleep(50);
    }
    throw new Error(`${name}: no frame within 15 s: ${JSON.stringify(await page.evaluate(() => /** @type {any} */ (window).__joinMarks))}`);
  } finally {
    await ctx.close();
  }
}

/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

async function main() {
  // JOIN_SERVER_ARGS: more `parley serve` flags, e.g. "--log-level debug";
  // JOIN_KEEP_LOG=1 keeps the server's data folder and prints its log's path.
  // JOIN_HOST: the address parley listens on (default 127.0.0.1). Chromium
  // ignores UDP from a loopback source on its non-loopback sockets, so
  // against 127.0.0.1 it can only connect over ICE-TCP or TURN: give an
  // address of the namespace's veth (scripts/bench-join.sh does) to
  // measure the UDP path a real deployment has.
  const host = process.env.JOIN_HOST;
  // Pages need a secure context: HTTPS with a certificate of the test's own.
  const tls = host ? makeCert(mkdtempSync(path.join(tmpdir(), 'parley-join-')), host) : undefined;
  const opts = { insecureCerts: Boolean(host) };
  const parley = await startParley({ ...(host ? { host, tls } : {}), args: (process.env.JOIN_SERVER_ARGS ?? '').split(' ').filter(Boolean) });
  const pub = await join(parley.base, ROOM, 'pub', 'chromium', opts);
  const people = [pub];
  try {
    const results = { chromium: [], firefox: [] };
    const browsers = { chromium: await launch('chromium', opts), firefox: await launch('firefox', opts) };
    people.push(...Object.entries(browsers).map(([kind, browser]) => ({ name: kind, kind, browser, page: null, console: [] })));
    // The publisher's own media first, so that every round finds it flowing.
    for (let i = 0; i < 100 && !(await pub.page.evaluate(() => Boolean(/** @type {any} */ (window).parley?.pc))); i++) await sleep(100);
    await sleep(2000);
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of /** @type {const} */ (/** @type {any} */ (process.env.JOIN_BROWSERS ?? "chromium,firefox").split(","))) {
        const marks = await round(browsers[kind], parley.base, `${kind}${r}`);
        results[kind].push(marks);
        console.log(JSON.stringify({ measure: 'join-steps-ms', browser: kind, round: r, marks: Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, Math.round(v)])) }));
        await sleep(500); // the leave settles
      }
    }
    for (const [kind, rounds] of Object.entries(results)) {
      console.log(`\n${kind}, ${rounds.length} rounds: p50 (p90) ms since the page was opened, and the p50 step from the previous line`);
      console.log('| step | p50 | p90 | step p50 |\n| --- | ---: | ---: | ---: |');
      let prev = null;
      for (const step of STEPS) {
        const xs = rounds.map((m) => m[step]).filter((x) => x !== undefined);
        if (xs.length === 0) continue;
        const deltas = prev ? rounds.filter((m) => m[step] !== undefined && m[prev] !== undefined).map((m) => m[step] - m[prev]) : [];
        const d = deltas.length ? Math.round(quantile(deltas, 0.5)) : '';
        console.log(`| ${step} | ${Math.round(quantile(xs, 0.5))} | ${Math.round(quantile(xs, 0.9))} | ${d} |`);
        prev = step;
      }
    }
  } finally {
    await closeAll(people.filter((p) => p.browser));
    const keep = process.env.JOIN_KEEP_LOG === '1';
    await parley.stop({ keep });
    if (keep) console.log(`server log: ${parley.logPath}`);
  }
}

await main();
