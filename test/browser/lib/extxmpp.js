// The web client against an XMPP server that is not parley's (issue 16,
// docs/EXTERNAL-XMPP.md): what the Prosody and ejabberd browser tests
// share. A test starts its server (on loopback, its ports from freePort),
// then `parley focus` as the server's component and one `parley bridge` in
// its brewery (startParley), serves web/static from a plain static server
// with a config.json pointing at the server (serveClient), and has a
// Chromium and a Firefox join a room (joinWithAccount) and call.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, diagnose, waitUntil, waitForMedia, mesh } from './browsers.js';

export const DOMAIN = 'example.test';
export const SECRET = 'focus-component-secret-0123456789';
const STATIC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/static');

/** freePort finds a loopback port free for TCP and UDP. */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
    });
    const ok = await new Promise((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (ok) return port;
  }
}

/**
 * @typedef {{name: string, child: import('node:child_process').ChildProcess, tail: () => string}} Child
 */

/**
 * Processes starts programs whose output goes to log files in dir, and
 * kills them all at the end.
 */
export class Processes {
  /** @param {string} dir */
  constructor(dir) {
    this.dir = dir;
    /** @type {Child[]} */
    this.children = [];
  }

  /**
   * run starts a program; its output goes to dir/<name>.log.
   * @param {string} name @param {string} bin @param {string[]} args
   * @returns {Child}
   */
  run(name, bin, args) {
    const logPath = path.join(this.dir, `${name}.log`);
    const log = createWriteStream(logPath);
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const c = { name, child, tail: () => tail(logPath) };
    this.children.push(c);
    return c;
  }

  killAll() {
    for (const c of this.children) c.child.kill('SIGKILL');
  }
}

/** tail returns a log file's last 3000 characters ('' when there is none). @param {string} file */
export function tail(file) {
  return existsSync(file) ? readFileSync(file, 'utf8').slice(-3000) : '';
}

/** json fetches a URL's JSON, or null. @param {string} url */
export async function json(url) {
  try {
    return await (await fetch(url)).json();
  } catch {
    return null;
  }
}

/**
 * startParley starts `parley focus` as the server's component (at
 * focus.<DOMAIN>, its secret SECRET) and one `parley bridge` logged in as
 * jvb@<DOMAIN> (the account must exist, its password bridgePassword), and
 * waits until the focus has the bridge.
 * @param {Processes} procs
 * @param {{wsPort: number, compPort: number, bridgePassword: string, serverLog: () => string, focusArgs?: string[]}} o
 */
export async function startParley(procs, o) {
  const [focusPort, bridgePort] = [await freePort(), await freePort()];
  writeFileSync(path.join(procs.dir, 'component-secret'), `${SECRET}\n`);
  writeFileSync(path.join(procs.dir, 'jvb-password'), `${o.bridgePassword}\n`);
  const bin = /** @type {string} */ (process.env.PARLEY_BIN);
  const focus = procs.run('focus', bin, ['focus', '--server', `127.0.0.1:${o.compPort}`, '--domain', DOMAIN,
    '--secret-file', path.join(procs.dir, 'component-secret'), '--listen', `127.0.0.1:${focusPort}`, ...(o.focusArgs ?? [])]);
  const bridge = procs.run('bridge', bin, ['bridge', '--server', `ws://127.0.0.1:${o.wsPort}/xmpp-websocket`, '--domain', DOMAIN,
    '--user', 'jvb', '--password-file', path.join(procs.dir, 'jvb-password'), '--listen', `127.0.0.1:${bridgePort}`, '--public-ip', '127.0.0.1']);
  await waitUntil(async () => (await json(`http://127.0.0.1:${focusPort}/health`))?.bridges === 1, 60_000,
    () => `the focus never saw the bridge:\n${focus.tail()}\n--- bridge:\n${bridge.tail()}\n--- server:\n${o.serverLog()}`);
  return { focusPort, bridgePort, focus, bridge };
}

const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.svg': 'image/svg+xml', '.html': 'text/html; charset=utf-8' };

/**
 * serveClient is any static web server, as an operator would run one:
 * /static/ from web/static, config.json, and index.html for every other
 * path (the rooms). Close it with server.close().
 * @param {object} config the config.json
 */
export async function serveClient(config) {
  const index = readFileSync(path.join(STATIC, 'index.html'));
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (p === '/config.json') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(config));
      return;
    }
    if (p.startsWith('/static/')) {
      const file = path.join(STATIC, path.normalize(p.slice('/static/'.length)));
      if (!file.startsWith(STATIC + path.sep) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES['.html'] }).end(index);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  return server;
}

/**
 * openPage launches a browser and opens base/<room> in it, joining at once.
 * @param {string} base @param {string} room @param {string} name @param {'chromium'|'firefox'} kind
 * @returns {Promise<import('./browsers.js').Participant>}
 */
export async function openPage(base, room, name, kind) {
  const browser = await launch(kind);
  const page = await browser.newPage();
  /** @type {string[]} */
  const log = [];
  page.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
  const p = { name, kind, browser, page, openedAt: performance.now(), console: log };
  await page.goto(`${base}/${room}?name=${name}&join=1`);
  return p;
}

/**
 * joinWithAccount: the server offers no guest login, so the pre-join page
 * asks for an account; p logs in as p.name (password "<name> password").
 * It returns once the call's client is online as p.name@DOMAIN in the room.
 * @param {import('./browsers.js').Participant} p
 * @param {string} room
 */
export async function joinWithAccount(p, room) {
  const { page, name } = p;
  await waitUntil(() => page.evaluate(() => document.getElementById('prejoin-account-box')?.hidden === false && document.getElementById('prejoin')?.hidden === false), 20_000, () => diagnose([p]));
  await page.type('#prejoin-user', name);
  await page.type('#prejoin-secret', `${name} password`);
  await page.click('#prejoin-join');
  await waitUntil(() => page.evaluate(() => window.parley?.call?.client?.jid ?? ''), 20_000, () => diagnose([p]));
  assert.match(await page.evaluate(() => window.parley.call.client.jid), new RegExp(`^${name}@${DOMAIN.replaceAll('.', '\\.')}/`));
  assert.equal(await page.evaluate(() => window.parley.call.room.jid), `${room}@conference.${DOMAIN}`);
}

/**
 * joinAsGuest: the page logs in without asking anything (SASL ANONYMOUS
 * on the site's guest host); it returns once the call's client is online
 * at guestDomain and in the room of DOMAIN's MUC.
 * @param {import('./browsers.js').Participant} p
 * @param {string} room
 * @param {string} guestDomain
 */
export async function joinAsGuest(p, room, guestDomain) {
  const { page } = p;
  await waitUntil(() => page.evaluate(() => window.parley?.call?.client?.jid ?? ''), 20_000, () => diagnose([p]));
  assert.match(await page.evaluate(() => window.parley.call.client.jid), new RegExp(`^[^@/]+@${guestDomain.replaceAll('.', '\\.')}/`));
  assert.equal(await page.evaluate(() => window.parley.call.room.jid), `${room}@conference.${DOMAIN}`);
}

/**
 * cameraRidsGrowing reads, twice 2 s apart, the frames each rid of the
 * page's camera encodes (outbound-rtp), and returns the rids whose count
 * grew: two or more means the focus's offer got the browser to send
 * simulcast, and the bridge took it.
 * @param {import('./browsers.js').Participant} p
 * @returns {Promise<string[]>}
 */
export async function cameraRidsGrowing(p) {
  const read = () => p.page.evaluate(async () => {
    const pc = /** @type {any} */ (window).parley?.pc;
    /** @type {Record<string, number>} */
    const out = {};
    const cam = pc?.getTransceivers().find((/** @type {RTCRtpTransceiver} */ t) => t.sender.track?.kind === 'video');
    if (!cam) return out;
    (await cam.sender.getStats()).forEach((/** @type {any} */ s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) out[s.rid] = s.framesEncoded ?? 0;
    });
    return out;
  });
  const a = await read();
  await new Promise((r) => setTimeout(r, 2000));
  const b = await read();
  return Object.keys(b).filter((rid) => b[rid] > (a[rid] ?? 0)).sort();
}

/**
 * checkCall is what a call through the external server must show: everyone
 * decodes everyone's video and hears their audio; each browser encodes at
 * least two layers of its camera (the focus's offer asked for simulcast,
 * and the bridge takes it); the focus, an occupant of the server's room,
 * is no participant; the bridge hosts the one conference.
 * @param {import('./browsers.js').Participant[]} people
 * @param {number} bridgePort
 */
export async function checkCall(people, bridgePort) {
  await waitForMedia(people, mesh(people.map((p) => p.name)), 90_000);
  for (const p of people) {
    /** @type {string[]} */
    let rids = [];
    await waitUntil(async () => (rids = await cameraRidsGrowing(p)).length >= 2, 30_000, () => `${p.name} (${p.kind}) encodes only ${rids}`);
  }
  const names = people.map((p) => p.name).sort();
  for (const p of people) {
    assert.deepEqual(await p.page.evaluate(() => [...window.parley.call.participants.keys()].sort()), names, `${p.name}'s participants`);
  }
  const bh = await json(`http://127.0.0.1:${bridgePort}/health`);
  assert.equal(bh?.conferences, 1, `the bridge's /health: ${JSON.stringify(bh)}`);
}
