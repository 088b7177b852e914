// A bridge dies mid-call (issue 16): parley serve places conferences only
// on two `parley bridge` processes; a Chromium and a Firefox in a call on
// one of them; it is killed with SIGKILL; the focus moves the conference
// to the other bridge (new Jingle sessions), and media flows again in
// both browsers within 5 s of the move.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { startParley, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, waitFlowing, closeAll, diagnose, waitUntil } from '../lib/browsers.js';

const parley = await startParley({ users: { jvb: 'bridge-secret' }, args: ['--local-bridge=false'] });
const dir = mkdtempSync(path.join(tmpdir(), 'parley-bridges-'));
writeFileSync(path.join(dir, 'password'), 'bridge-secret\n');
const people = [];
const bridges = new Map();
after(async () => {
  await closeAll(people);
  for (const b of bridges.values()) b.child.kill('SIGKILL');
  await parley.stop();
});

/** freePort finds a loopback port free for TCP and UDP (a bridge's one port). */
async function freePort() {
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

/** startBridge runs `parley bridge` against the test's parley. */
async function startBridge(nick) {
  const port = await freePort();
  const logPath = path.join(dir, `${nick}.log`);
  const log = createWriteStream(logPath);
  const child = spawn(process.env.PARLEY_BIN, ['bridge', '--server', `ws://127.0.0.1:${parley.port}/xmpp-websocket`,
    '--domain', 'localhost', '--user', 'jvb', '--password-file', path.join(dir, 'password'),
    '--listen', `127.0.0.1:${port}`, '--public-ip', '127.0.0.1', '--nick', nick], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const b = { nick, child, health: `http://127.0.0.1:${port}/health`, logTail: () => readFileSync(logPath, 'utf8').slice(-3000) };
  bridges.set(nick, b);
  return b;
}

/** health is a bridge's GET /health, or null when it does not answer. */
async function health(b) {
  try {
    const res = await fetch(b.health);
    return await res.json();
  } catch {
    return null;
  }
}

test('a bridge killed mid-call: Chromium and Firefox get media back from the other bridge', async () => {
  const [b1, b2] = [await startBridge('b1'), await startBridge('b2')];
  for (const b of [b1, b2]) {
    await waitUntil(async () => (await health(b))?.xmpp === 'connected', 20_000, () => `${b.nick} never connected:\n${b.logTail()}`);
  }
  await sleep(500); // the focus reads their brewery presence
  for (const [name, kind] of [['cr', 'chromium'], ['ff', 'firefox']]) people.push(await join(parley.base, 'failover', name, kind));
  const expected = mesh(people.map((p) => p.name));
  await waitForMedia(people, expected, 90_000);
  const counts = await Promise.all([b1, b2].map(async (b) => (await health(b))?.conferences));
  const [host, other] = counts[0] === 1 ? [b1, b2] : [b2, b1];
  assert.deepEqual(counts.toSorted(), [0, 1], `conferences on b1, b2: ${counts}`);

  const killed = performance.now();
  host.child.kill('SIGKILL');
  await waitUntil(async () => (await health(other))?.conferences === 1, 5_000,
    async () => `${other.nick} never got the conference:\n${other.logTail()}\n${parley.logTail()}`);
  const moved = performance.now();
  await waitFlowing(people, expected, 5_000, async (bad) => `media not back within 5 s of the move:\n${bad.join('\n')}\n${await diagnose(people)}\n${parley.logTail()}`);
  console.log(JSON.stringify({ measure: 'bridge-failover-ms', moved: Math.round(moved - killed), flowing: Math.round(performance.now() - moved) }));
});
