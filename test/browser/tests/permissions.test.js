// Permissions enforced on media, with real browsers (docs/PERMISSIONS.md):
// viewers in Chromium and Firefox publish nothing that anyone receives
// while they receive everyone; a bot moderator mutes a browser and the
// others' received audio from it stops growing within a second, while the
// browser, which knows nothing of it, keeps sending; a grant brings it back.
// The moderator is test/browser/permbot (a Pion peer in the Go SDK's engine).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startParley, sleep } from '../lib/parley.js';
import { join, sample, sampleAll, closeAll, diagnose, waitUntil } from '../lib/browsers.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** permbotBin returns PERMBOT_BIN or builds test/browser/permbot into a temporary folder. */
function permbotBin() {
  if (process.env.PERMBOT_BIN) return { bin: process.env.PERMBOT_BIN, cleanup: () => {} };
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-permbot-'));
  const bin = path.join(dir, 'permbot');
  execFileSync('go', ['build', '-o', bin, './test/browser/permbot'], { cwd: REPO_ROOT, stdio: 'inherit' });
  return { bin, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * startBot runs the moderator in room; ask(line) resolves with its JSON answer.
 * @param {string} base
 * @param {string} bin
 * @param {string} room
 * @param {string[]} flags
 */
async function startBot(base, bin, room, flags = []) {
  const ws = `${base.replace(/^http/, 'ws')}/xmpp-websocket`;
  const child = spawn(bin, ['-ws', ws, '-room', room, ...flags], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(String(d)));
  /** @type {((v: any) => void)[]} */
  const waiting = [];
  readline.createInterface({ input: child.stdout }).on('line', (l) => waiting.shift()?.(JSON.parse(l)));
  let exited = null;
  child.on('exit', (code) => {
    exited = `permbot exited (${code}): ${stderr.join('').slice(-1500)}`;
    for (const w of waiting.splice(0)) w({ error: exited });
  });
  const next = () => new Promise((resolve) => waiting.push(resolve));
  const ready = await Promise.race([next(), sleep(30_000).then(() => ({ error: 'not ready in 30 s' }))]);
  if (!ready.ready) throw new Error(`permbot: ${JSON.stringify(ready)} ${stderr.join('')}`);
  return {
    /** @param {string} line */
    async ask(line) {
      if (exited) throw new Error(exited);
      const answer = next();
      child.stdin.write(`${line}\n`);
      return answer;
    },
    /** @returns {Promise<Record<string, number>>} packets received by "nick/kind" */
    async recv() {
      return (await this.ask('stats')).recv;
    },
    /** @param {string} line */
    async must(line) {
      const a = await this.ask(line);
      assert.ok(a.ok, `${line}: ${JSON.stringify(a)}`);
    },
    async stop() {
      if (exited) return;
      child.stdin.end();
      await new Promise((r) => {
        child.once('exit', r);
        setTimeout(() => child.kill('SIGKILL'), 5000);
      });
    },
  };
}

/**
 * sentAudio reads the page's own outbound audio packets: what its client
 * sends, whatever the server does with it.
 * @param {import('../lib/browsers.js').Participant} p
 */
async function sentAudio(p) {
  return p.page.evaluate(async () => {
    const pc = /** @type {any} */ (window).parley?.pc;
    let n = 0;
    if (pc) (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'audio') n += s.packetsSent ?? 0; });
    return n;
  });
}

const parley = await startParley();
const permbot = permbotBin();
const people = [];
const bots = [];
after(async () => {
  for (const b of bots) await b.stop();
  await closeAll(people);
  await parley.stop();
  permbot.cleanup();
});

test('viewers in Chromium and Firefox receive everyone and publish nothing that anyone receives', async () => {
  // A moderated room: newcomers without affiliation are viewers.
  const bot = await startBot(parley.base, permbot.bin, 'viewers', ['-moderated']);
  bots.push(bot);
  const viewers = [await join(parley.base, 'viewers', 'vcr', 'chromium'), await join(parley.base, 'viewers', 'vff', 'firefox')];
  people.push(...viewers);
  // Both receive the owner (synthetic video counts by packets): they are in the call.
  await waitUntil(async () => {
    const s = await sampleAll(viewers);
    return viewers.every((v) => s.get(v.name)?.boss?.audioPackets > 0 && s.get(v.name)?.boss?.videoPackets > 0);
  }, 90_000, async () => `viewers do not receive the owner\n${await diagnose(viewers)}`);
  const before = await sampleAll(viewers);
  await sleep(3000);
  const after = await sampleAll(viewers);
  for (const v of viewers) {
    assert.ok(after.get(v.name).boss.audioPackets > before.get(v.name).boss.audioPackets, `${v.name} stopped receiving the owner`);
  }
  const got = await bot.recv();
  for (const key of ['vcr/audio', 'vcr/video', 'vff/audio', 'vff/video']) {
    assert.equal(got[key] ?? 0, 0, `the owner received ${got[key]} packets of ${key} (${JSON.stringify(got)})`);
  }
  for (const [rx, tx] of [['vcr', 'vff'], ['vff', 'vcr']]) {
    const c = after.get(rx)?.[tx];
    assert.ok(!c || (c.audioPackets === 0 && c.videoPackets === 0), `${rx} received from ${tx}: ${JSON.stringify(c)}`);
  }
  console.log(JSON.stringify({ measure: 'viewers-publish-nothing', ownerReceived: got, viewers: Object.fromEntries(after) }));
});

test('a moderator mutes a browser: the others\' audio from it stops within a second, whatever it sends', async () => {
  const bot = await startBot(parley.base, permbot.bin, 'mute');
  bots.push(bot);
  const cr = await join(parley.base, 'mute', 'mcr', 'chromium');
  const ff = await join(parley.base, 'mute', 'mff', 'firefox');
  people.push(cr, ff);
  const flowing = async () => {
    const [scr, sff, b] = [await sample(cr), await sample(ff), await bot.recv()];
    return { cr: scr.mff?.audioPackets ?? 0, ff: sff.mcr?.audioPackets ?? 0, bot: b };
  };
  await waitUntil(async () => {
    const f = await flowing();
    return f.cr > 0 && f.ff > 0 && f.bot['mcr/audio'] > 0 && f.bot['mff/audio'] > 0;
  }, 90_000, async () => `audio does not flow: ${JSON.stringify(await flowing())}\n${await diagnose([cr, ff])}`);

  for (const [muted, other] of [[cr, ff], [ff, cr]]) {
    // Its audio is flowing now, to the other browser and to the bot.
    const start = { other: (await sample(other))[muted.name].audioPackets, bot: (await bot.recv())[`${muted.name}/audio`] };
    await waitUntil(async () => (await sample(other))[muted.name].audioPackets > start.other + 20 &&
      (await bot.recv())[`${muted.name}/audio`] > start.bot + 20, 30_000, async () => `${muted.name}'s audio is not flowing: ${JSON.stringify(await flowing())}`);
    await bot.must(`mute ${muted.name} audio`);
    // Within a second the forwarding has stopped; then nothing grows for two more.
    await sleep(1000);
    const a = { other: (await sample(other))[muted.name], bot: (await bot.recv())[`${muted.name}/audio`], sent: await sentAudio(muted) };
    await sleep(2000);
    const b = { other: (await sample(other))[muted.name], bot: (await bot.recv())[`${muted.name}/audio`], sent: await sentAudio(muted) };
    assert.equal(b.other.audioPackets, a.other.audioPackets, `${other.name} still receives ${muted.name}'s audio after the mute`);
    assert.equal(b.bot ?? 0, a.bot ?? 0, `the moderator still receives ${muted.name}'s audio after the mute`);
    assert.ok(b.sent > a.sent, `${muted.name}'s browser stopped sending (${a.sent} -> ${b.sent}): the test proves nothing`);
    assert.ok(b.other.videoPackets > a.other.videoPackets, `${muted.name}'s video stopped too`);
    console.log(JSON.stringify({ measure: 'muted-audio-frozen', muted: muted.name, receiver: other.name, before: a, after: b }));

    // Allowed again: its audio flows again.
    await bot.must(`allow ${muted.name} publish_audio true`);
    await waitUntil(async () => (await sample(other))[muted.name].audioPackets > b.other.audioPackets + 20,
      20_000, async () => `${muted.name}'s audio did not come back: ${JSON.stringify(await flowing())}`);
  }
});
