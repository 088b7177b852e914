// A room of 30 stays usable, in Chromium and Firefox together: 28 Pion
// peers (4 of them with audio and video, the others in the room only, to
// keep the CPU low; parley runs with --last-n 4 as a large room would)
// and one page of each browser, at 1280×800.
// - Every People list holds the 30, oneself included, with the right count.
// - Tile view pages the tiles: every page's tiles lie inside the stage,
//   side by side without overlapping, each big enough to see; the pages
//   together hold all 30, each once. Speaker view (L) shows one large tile
//   and the others in a strip.
// - The controls still work: a mute by M is seen by the other browser.
// - The pages decode video from the peers that send it, and log no errors.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep, cpuPercent } from '../lib/parley.js';
import { startPion } from '../lib/pion.js';
import { join, waitUntil, diagnose, closeAll, waitForMedia } from '../lib/browsers.js';

const ROOM = 'thirty';
const parley = await startParley({ args: ['--last-n', '4'] });
const people = [];
let pion = null;
after(async () => {
  await closeAll(people);
  await pion?.stop();
  await parley.stop();
});

/** peopleList reads a page's People list. */
const peopleList = (p) => p.page.evaluate(() => ({
  nicks: [...document.querySelectorAll('#people li')].map((li) => li.dataset.nick),
  self: document.querySelector('#people li.self')?.dataset.nick ?? null,
  title: document.getElementById('people-title').textContent,
}));

/** stage reads the tiles shown, with their boxes, and the pager. */
const stage = (p) => p.page.evaluate(() => {
  const s = document.getElementById('stage').getBoundingClientRect();
  const tiles = [...document.querySelectorAll('#grid .tile')].map((t) => {
    const r = t.getBoundingClientRect();
    return { key: t.dataset.nick, main: t.classList.contains('main'), x: r.x, y: r.y, w: r.width, h: r.height };
  });
  return {
    stage: { x: s.x, y: s.y, w: s.width, h: s.height },
    tiles,
    pager: !document.getElementById('pager').hidden,
    label: document.getElementById('page-label').textContent,
    next: !document.getElementById('page-next').disabled,
  };
});

/** checkPage asserts that a page of tiles is laid out: inside the stage, apart, big enough. */
function checkPage(name, v) {
  const eps = 1;
  assert.ok(v.tiles.length > 0, `${name}: no tiles`);
  for (const t of v.tiles) {
    assert.ok(t.w >= 160 && t.h >= 90, `${name}: tile ${t.key} is ${t.w}×${t.h}`);
    assert.ok(t.x >= v.stage.x - eps && t.y >= v.stage.y - eps && t.x + t.w <= v.stage.x + v.stage.w + eps && t.y + t.h <= v.stage.y + v.stage.h + eps,
      `${name}: tile ${t.key} ${JSON.stringify(t)} is outside the stage ${JSON.stringify(v.stage)}`);
  }
  for (const a of v.tiles) {
    for (const b of v.tiles) {
      if (a === b) continue;
      const apart = a.x + a.w <= b.x + eps || b.x + b.w <= a.x + eps || a.y + a.h <= b.y + eps || b.y + b.h <= a.y + eps;
      assert.ok(apart, `${name}: tiles ${a.key} and ${b.key} overlap`);
    }
  }
}

test('a room of 30: People lists, paged tiles, speaker view, controls, no errors', async () => {
  pion = await startPion({ base: parley.base, room: ROOM, n: 28, media: 4, prefix: 'p' });
  const cr = await join(parley.base, ROOM, 'cr', 'chromium');
  people.push(cr);
  const ff = await join(parley.base, ROOM, 'ff', 'firefox');
  people.push(ff);
  for (const p of [cr, ff]) await p.page.setViewport({ width: 1280, height: 800 });
  const all = [...pion.nicks, 'cr', 'ff'].sort();

  for (const p of [cr, ff]) {
    await p.page.click('#toggle-people');
    await waitUntil(async () => {
      const l = await peopleList(p);
      return JSON.stringify([...l.nicks].sort()) === JSON.stringify(all) && l.self === p.name && l.title === 'People (30)';
    }, 60_000, async () => `${p.name}'s People list: ${JSON.stringify(await peopleList(p))}`);
    assert.equal(await p.page.$eval('#call-count', (e) => e.textContent), '30 people');
    await p.page.click('#toggle-people');
  }

  // Media from the peers that send it (lastN gives each page four cameras at most).
  const senders = ['p1', 'p2', 'p3', 'p4'];
  await waitForMedia([cr, ff], new Map([['cr', senders], ['ff', senders]]), 90_000, new Set());

  const u1 = parley.usage();
  await sleep(3000);
  const u2 = parley.usage();
  const pages = {};
  for (const p of [cr, ff]) {
    await waitUntil(async () => (await stage(p)).pager, 15_000, async () => `${p.name} shows no pager: ${JSON.stringify(await stage(p))}`);
    // Back to the first page, then through every page.
    for (let i = 0; i < 10 && !(await p.page.$eval('#page-prev', (b) => b.disabled)); i++) await p.page.click('#page-prev');
    const seen = [];
    for (let page = 1; ; page++) {
      const v = await stage(p);
      checkPage(`${p.name} page ${page}`, v);
      seen.push(...v.tiles.map((t) => t.key || p.name));
      if (!v.next) break;
      assert.ok(page < 10, `${p.name}: too many pages`);
      await p.page.click('#page-next');
      await waitUntil(async () => (await stage(p)).label !== v.label, 5000, () => `${p.name}: next page did not turn`);
    }
    assert.deepEqual([...seen].sort(), all, `${p.name}: the pages do not hold everyone once`);
    pages[p.name] = (await stage(p)).label;

    // Speaker view: one large tile, the others in the strip.
    await p.page.evaluate(() => document.activeElement?.blur());
    await p.page.keyboard.press('l');
    await waitUntil(() => p.page.evaluate(() => window.parley.state.layout === 'speaker'), 5000, () => 'L did not switch layout');
    const v = await stage(p);
    const mains = v.tiles.filter((t) => t.main);
    assert.equal(mains.length, 1, `${p.name}: ${mains.length} large tiles`);
    for (const t of v.tiles) if (!t.main) assert.ok(mains[0].w * mains[0].h > 4 * t.w * t.h, `${p.name}: the large tile is not large`);
    await p.page.keyboard.press('l');
    await waitUntil(() => p.page.evaluate(() => window.parley.state.layout === 'tile'), 5000, () => 'L did not switch back');
  }

  // The controls still work: cr mutes with M, ff sees it.
  await cr.page.keyboard.press('m');
  await waitUntil(() => ff.page.evaluate(() => window.parley.state.members.get('cr')?.state.audio === 'muted'), 10_000, () => diagnose([cr, ff]));

  console.log(JSON.stringify({ measure: 'room-of-30', lastPage: pages, parleyCpuPercent: Math.round(cpuPercent(u1, u2)), parleyRssMiB: Math.round(u2.rssMiB) }));
  for (const p of [cr, ff]) {
    const errors = p.console.filter((l) => l.startsWith('error:') || l.startsWith('pageerror'));
    assert.deepEqual(errors, [], `${p.name}'s console errors`);
  }
});
