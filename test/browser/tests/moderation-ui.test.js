// A moderator's tools in the meeting room's UI, through the server, in
// Chromium and Firefox (each round swaps who uses which): guests of a room
// with a lobby wait on a waiting screen; the moderator (a token link, owner
// of the declared room) sees each knock as a notice and in the people
// panel, admits one (who enters the call) and denies another with a reason
// (who reads it); a third gives up waiting. The moderator mutes a
// participant from the people panel and the audio the others receive from
// it stops growing within a second even though the muted page turns its
// microphone back on by force; the participant reads who muted it, is asked
// to unmute and does. Then "end for all" shows everyone who ended the
// meeting, and the declared room takes the moderator back; a room that
// goes with its meeting offers no rejoin.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startParley, sleep } from '../lib/parley.js';
import { launch, waitUntil, diagnose, closeAll, sample } from '../lib/browsers.js';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const catalogue = (lang) => JSON.parse(readFileSync(new URL(`../../../web/static/i18n/${lang}.json`, import.meta.url), 'utf8'));
/** axe runs axe-core on the page and returns its serious and critical findings. */
async function axe(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
}

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
    s.close(() => resolve(port));
  });
});

const secrets = mkdtempSync(path.join(tmpdir(), 'parley-moderation-ui-'));
writeFileSync(path.join(secrets, 'jwt'), 'a shared secret for the moderation test\n');
writeFileSync(path.join(secrets, 'admin'), 'admin-token-for-the-moderation-test\n');
const adminPort = await freePort();
const parley = await startParley({
  args: ['--jwt-secret-file', path.join(secrets, 'jwt'), '--admin', `127.0.0.1:${adminPort}`,
    '--admin-token-file', path.join(secrets, 'admin')],
});
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
  rmSync(secrets, { recursive: true, force: true });
});

/** api calls the admin API. */
async function api(method, p, body) {
  const res = await fetch(`http://127.0.0.1:${adminPort}${p}`, {
    method, body: body ? JSON.stringify(body) : undefined,
    headers: { Authorization: 'Bearer admin-token-for-the-moderation-test' },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** visit opens a page at url in a new browser of kind. */
async function visit(kind, url, name, lang = '') {
  const browser = await launch(kind, lang ? { lang } : {});
  const page = await browser.newPage();
  const p = { name, kind, browser, page, openedAt: performance.now(), console: [] };
  page.on('console', (m) => p.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => p.console.push(`pageerror: ${e.message}`));
  people.push(p);
  await page.goto(url);
  return p;
}

const visible = (p, id) => p.page.evaluate((i) => !document.getElementById(i).hidden, id);
const text = (p, sel) => p.page.$eval(sel, (e) => e.textContent);
const inCall = (p) => p.page.evaluate(() => window.parley?.status?.phase === 'in-call' && !document.getElementById('call').hidden);
const knocks = (p) => p.page.$$eval('#lobby-list li', (lis) => lis.map((li) => li.querySelector('.pname').textContent));
const actions = (p, nick) => p.page.$$eval(`#people li[data-nick="${nick}"] .actions button`, (bs) => bs.map((b) => b.getAttribute('aria-label')));
/** audioFrom is how many audio packets p has received from nick. */
const audioFrom = async (p, nick) => (await sample(p))[nick]?.audioPackets ?? 0;

for (const [modKind, guestKind] of [['chromium', 'firefox'], ['firefox', 'chromium']]) {
  const room = `den-${modKind}`;
  const round = {};

  test(`${modKind} moderator, ${guestKind} guests: the lobby's waiting screen, admit, deny with a reason, give up`, async () => {
    assert.equal((await api('POST', '/api/rooms', { name: room, lobby: true, owners: [`token:mod-${modKind}`] })).status, 201);
    const token = (await api('POST', '/api/tokens', { user: `mod-${modKind}`, name: `Mod ${modKind}` })).body.token;
    const mod = await visit(modKind, `${parley.base}/${room}?jwt=${token}&name=mod&join=1`, 'mod');
    await waitUntil(() => inCall(mod), 20_000, () => diagnose([mod]));
    round.mod = mod;

    const ann = await visit(guestKind, `${parley.base}/${room}?name=ann&join=1`, 'ann');
    await waitUntil(() => visible(ann, 'lobby'), 20_000, () => diagnose([ann]));
    assert.equal(await visible(ann, 'call'), false);
    assert.equal(await text(ann, '#lobby h1'), 'Waiting to be let in');
    assert.equal(await text(ann, '#lobby-room'), room);
    assert.equal(await ann.page.$eval('#lobby-cancel', (b) => b.getAttribute('aria-label')), 'Stop waiting');
    assert.deepEqual(await axe(ann.page), [], 'the waiting screen');
    // The moderator is told, over the call and in the people panel.
    await waitUntil(() => visible(mod, 'knock-notice'), 15_000, () => diagnose([mod]));
    assert.equal(await text(mod, '#knock-notice-text'), 'ann is waiting in the lobby.');
    await mod.page.click('#knock-notice-later');
    await mod.page.click('#toggle-people');
    assert.deepEqual(await knocks(mod), ['ann']);
    assert.equal(await text(mod, '#lobby-title'), 'Waiting in the lobby (1)');
    assert.deepEqual(await axe(mod.page), [], 'the people panel with someone in the lobby');
    await mod.page.click('#lobby-list button[aria-label="Admit ann"]');
    await waitUntil(() => inCall(ann), 20_000, () => diagnose([ann, mod]));
    await waitUntil(async () => (await knocks(mod)).length === 0 && !(await visible(mod, 'lobby-box')), 10_000, () => diagnose([mod]));
    await waitUntil(() => mod.page.evaluate(() => document.querySelector('#people li[data-nick="ann"]') !== null), 15_000, () => diagnose([mod]));
    round.ann = ann;

    const bo = await visit(modKind, `${parley.base}/${room}?name=bo&join=1`, 'bo');
    await waitUntil(() => visible(bo, 'lobby'), 20_000, () => diagnose([bo]));
    await waitUntil(async () => (await knocks(mod)).includes('bo'), 15_000, () => diagnose([mod]));
    await mod.page.type('#lobby-reason', 'the room is full today');
    await mod.page.click('#lobby-list button[aria-label="Deny bo"]');
    await waitUntil(() => visible(bo, 'left'), 20_000, () => diagnose([bo]));
    assert.equal(await text(bo, '#left-title'), 'The moderators declined');
    assert.equal(await text(bo, '#left-reason'), 'The moderators did not let you in: the room is full today');
    assert.equal(await bo.page.$eval('#left', (e) => e.dataset.kind), 'denied');
    assert.deepEqual(await axe(bo.page), [], 'the declined screen');

    // cy's browser speaks French, or Spanish: so does the waiting screen.
    const lang = guestKind === 'firefox' ? 'fr' : 'es';
    const cy = await visit(guestKind, `${parley.base}/${room}?name=cy&join=1`, 'cy', `${lang}-${lang.toUpperCase()}`);
    await waitUntil(() => visible(cy, 'lobby'), 20_000, () => diagnose([cy]));
    assert.equal(await text(cy, '#lobby h1'), catalogue(lang)['lobby.waitTitle']);
    assert.equal(await cy.page.$eval('#lobby-cancel', (b) => b.getAttribute('aria-label')), catalogue(lang)['lobby.cancel']);
    await waitUntil(async () => (await knocks(mod)).includes('cy'), 15_000, () => diagnose([mod]));
    await cy.page.click('#lobby-cancel');
    await waitUntil(() => visible(cy, 'left'), 20_000, () => diagnose([cy]));
    await waitUntil(async () => (await knocks(mod)).length === 0, 15_000, async () => `mod still lists ${await knocks(mod)}`);
    assert.ok(await text(mod, '#chat-log').then((t) => t.includes('cy stopped waiting.') && t.includes('bo was turned away.') && t.includes('ann was let in.')));
    await closeAll([bo, cy]);
    people.splice(people.indexOf(bo), 1);
    people.splice(people.indexOf(cy), 1);
  });

  test(`${modKind} moderator mutes a ${guestKind} participant at the server; asked, it unmutes`, async () => {
    const { mod, ann } = round;
    assert.ok(mod && ann, 'the lobby test did not leave a call');
    // The guest may not moderate: its panel offers nothing over the moderator, and no "end for all".
    await ann.page.click('#toggle-people');
    assert.deepEqual(await actions(ann, 'mod'), []);
    assert.equal(await visible(ann, 'end-meeting'), false);
    assert.deepEqual(await actions(mod, 'ann'), ['Mute ann', "Stop ann's camera", 'Make ann a moderator', 'Remove ann from the meeting']);
    // Audio from ann flows to mod.
    await waitUntil(async () => {
      const a = await audioFrom(mod, 'ann');
      await sleep(500);
      return a > 0 && (await audioFrom(mod, 'ann')) > a;
    }, 30_000, () => diagnose([mod, ann]));

    // A render that changes only mod's own row (a hand raised, then
    // lowered) keeps ann's row: rows used to be rebuilt on every render,
    // and a click aimed at one could land on a detached node.
    const annRow = await mod.page.$('#people li[data-nick="ann"]');
    for (const raised of [true, false]) {
      await mod.page.click('#toggle-hand');
      await waitUntil(() => mod.page.evaluate((r) => (document.querySelector('#people li.self .badge.hand') !== null) === r, raised), 5_000, () => diagnose([mod]));
    }
    assert.equal(await annRow.evaluate((li) => li.isConnected), true, "ann's row was rebuilt by a render that did not change it");

    const clicked = performance.now();
    await mod.page.click('#people li[data-nick="ann"] .act-mute');
    await waitUntil(() => visible(ann, 'muted-notice'), 10_000, () => diagnose([ann]));
    assert.equal(await text(ann, '#muted-notice-text'), `Mod ${modKind} muted you.`);
    assert.equal(await ann.page.$eval('#toggle-mic', (b) => b.getAttribute('aria-pressed')), 'true');
    assert.deepEqual(await axe(ann.page), [], 'the call with the muted notice');
    // Whatever ann's page does, the server forwards nothing.
    await ann.page.evaluate(() => { window.parley.call.cfg.localTracks().audio.enabled = true; });
    // Within a second of the click, nothing more arrives from ann.
    await sleep(Math.max(0, clicked + 1000 - performance.now()));
    const before = await audioFrom(mod, 'ann');
    await sleep(2000);
    const afterMute = await audioFrom(mod, 'ann');
    assert.equal(afterMute, before, `mod still received ${afterMute - before} audio packets from ann in 2 s after the mute`);
    await waitUntil(async () => (await actions(mod, 'ann')).includes('Ask ann to unmute'), 10_000, async () => `mod offers: ${await actions(mod, 'ann')}`);
    assert.ok(!(await actions(mod, 'ann')).includes('Mute ann'));

    await mod.page.click('#people li[data-nick="ann"] .act-askUnmute');
    await waitUntil(() => visible(ann, 'unmute-ask'), 10_000, () => diagnose([ann]));
    assert.equal(await text(ann, '#unmute-ask-text'), `Mod ${modKind} asks you to unmute.`);
    await ann.page.click('#unmute-ask-yes');
    await waitUntil(() => ann.page.$eval('#toggle-mic', (b) => b.getAttribute('aria-pressed') === 'false'), 10_000, () => diagnose([ann]));
    assert.equal(await visible(ann, 'muted-notice'), false);
    await waitUntil(async () => {
      const a = await audioFrom(mod, 'ann');
      await sleep(500);
      return (await audioFrom(mod, 'ann')) > a;
    }, 15_000, () => diagnose([mod, ann]));
  });

  test(`${modKind} moderator ends the meeting for all: everyone reads who ended it`, async () => {
    const { mod, ann } = round;
    assert.equal(await visible(mod, 'end-meeting'), true);
    await mod.page.click('#end-meeting');
    await waitUntil(() => mod.page.evaluate(() => document.getElementById('end-confirm').open), 5_000, () => diagnose([mod]));
    // One round gives a reason, the other none.
    assert.deepEqual(await axe(mod.page), [], 'the end-for-all dialog');
    const reason = modKind === 'firefox' ? 'time is up' : '';
    if (reason) await mod.page.type('#end-reason', reason);
    await mod.page.click('#end-confirm-yes');
    for (const p of [mod, ann]) {
      await waitUntil(() => visible(p, 'left'), 15_000, () => diagnose([p]));
      assert.equal(await text(p, '#left-title'), 'The meeting has ended');
      assert.equal(await text(p, '#left-reason'), `The meeting was ended by Mod ${modKind}.${reason ? ` Reason: ${reason}` : ''}`);
      assert.equal(await visible(p, 'rejoin'), true);
    }
    // The declared room is still there: rejoining takes the moderator back in.
    await mod.page.click('#rejoin');
    await waitUntil(() => inCall(mod), 20_000, () => diagnose([mod]));
    await closeAll([mod, ann]);
    people.splice(0, people.length);
  });
}

test('a meeting ended in a room that goes with it offers no rejoin, only home (Chromium owner, Firefox guest)', async () => {
  const owner = await visit('chromium', `${parley.base}/pop-up?name=olga&join=1`, 'olga');
  await waitUntil(() => inCall(owner), 20_000, () => diagnose([owner]));
  const guest = await visit('firefox', `${parley.base}/pop-up?name=gil&join=1`, 'gil');
  await waitUntil(() => inCall(guest), 20_000, () => diagnose([guest]));
  // The room's creator owns it, so the room grants it end_meeting; not the guest.
  await waitUntil(() => visible(owner, 'end-meeting'), 10_000, () => diagnose([owner]));
  assert.equal(await visible(guest, 'end-meeting'), false);
  await owner.page.click('#end-meeting');
  await waitUntil(() => owner.page.evaluate(() => document.getElementById('end-confirm').open), 5_000, () => diagnose([owner]));
  await owner.page.click('#end-confirm-yes');
  for (const p of [owner, guest]) {
    await waitUntil(() => visible(p, 'left'), 15_000, () => diagnose([p]));
    assert.equal(await text(p, '#left-reason'), 'The meeting was ended by olga.');
    assert.equal(await visible(p, 'rejoin'), false, `${p.name} is offered to rejoin a room that is gone`);
    assert.equal(await p.page.evaluate(() => document.activeElement.id), 'left-home');
  }
  await closeAll(people.splice(0, people.length));
});
