// A mixed call between browsers and a Go SDK bot (sdk/examples/playfile):
// Chromium and Firefox decode the bot's video (the SDK's synthetic VP8 test
// pattern) and hear its audio, and the bot receives both browsers' audio
// and video as RTP.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startParley, sleep } from '../lib/parley.js';
import { join, mesh, waitForMedia, sampleAll, stalled, closeAll, waitUntil } from '../lib/browsers.js';

const ROOM = 'sdkmix';
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** playfileBin returns PLAYFILE_BIN or builds the example into a temporary folder. */
function playfileBin() {
  if (process.env.PLAYFILE_BIN) return { bin: process.env.PLAYFILE_BIN, cleanup: () => {} };
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-playfile-'));
  const bin = path.join(dir, 'playfile');
  execFileSync('go', ['build', '-o', bin, './sdk/examples/playfile'], { cwd: REPO_ROOT, stdio: 'inherit' });
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * startBot runs the playfile bot in ROOM; report() resolves with its next
 * JSON report line: {room, occupants, tracks: [{from, kind, codec, packets, lost, ended}]}.
 */
function startBot(base, bin) {
  const ws = `${base.replace(/^http/, 'ws')}/xmpp-websocket`;
  const child = spawn(bin, ['-server', ws, '-domain', 'localhost', '-room', ROOM, '-nick', 'bot', '-report', '500ms'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(String(d)));
  let latest = null;
  let exited = null;
  readline.createInterface({ input: child.stdout }).on('line', (l) => (latest = JSON.parse(l)));
  child.on('exit', (code) => (exited = `playfile exited (${code}): ${stderr.join('').slice(-1500)}`));
  return {
    report() {
      if (exited) throw new Error(exited);
      return latest;
    },
    /** receiving sums the bot's live packets by "nick/kind". */
    receiving() {
      const out = {};
      for (const t of this.report()?.tracks ?? []) {
        if (!t.ended) out[`${t.from}/${t.kind}`] = (out[`${t.from}/${t.kind}`] ?? 0) + t.packets;
      }
      return out;
    },
    log: () => stderr.join('').slice(-1500),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      await new Promise((r) => {
        child.once('exit', r);
        setTimeout(() => child.kill('SIGKILL'), 5000);
      });
    },
  };
}

const parley = await startParley();
const playfile = playfileBin();
const people = [];
let bot = null;
after(async () => {
  await bot?.stop();
  await closeAll(people);
  await parley.stop();
  playfile.cleanup();
});

test('browsers decode a Go SDK bot\'s video and the bot receives their audio and video', async () => {
  bot = startBot(parley.base, playfile.bin);
  await waitUntil(() => bot.report()?.occupants?.includes('bot'), 30_000, () => `the bot never joined: ${bot.log()}`);
  people.push(await join(parley.base, ROOM, 'cr', 'chromium'));
  people.push(await join(parley.base, ROOM, 'ff', 'firefox'));

  // Each browser decodes the bot's frames (not just its packets) and the other browser's.
  const expected = mesh(['cr', 'ff'], ['cr', 'ff', 'bot']);
  await waitForMedia(people, expected, 90_000);
  const wanted = ['cr/audio', 'cr/video', 'ff/audio', 'ff/video'];
  await waitUntil(() => wanted.every((k) => bot.receiving()[k] > 0), 30_000, () => `the bot receives ${JSON.stringify(bot.receiving())}\n${bot.log()}`);

  // And it keeps flowing, both ways.
  const b1 = bot.receiving();
  const s1 = await sampleAll(people);
  await sleep(2000);
  const s2 = await sampleAll(people);
  const b2 = bot.receiving();
  const bad = stalled(s1, s2, expected);
  assert.deepEqual(bad, [], `browsers stopped receiving:\n${bad.join('\n')}`);
  for (const k of wanted) assert.ok(b2[k] > b1[k], `the bot's ${k} stalled at ${b1[k]} (${JSON.stringify(b2)})`);
  const codecs = Object.fromEntries((bot.report().tracks ?? []).map((t) => [`${t.from}/${t.kind}`, t.codec]));
  assert.equal(codecs['cr/audio'], 'audio/opus');
  assert.equal(codecs['ff/audio'], 'audio/opus');
  console.log(JSON.stringify({ measure: 'sdk-bot-mixed-call', bot: b2, browsers: Object.fromEntries(s2) }));
});
