// Languages and accessibility of the web client, in Chromium and Firefox:
// the page follows the browser's language (French, Spanish), every control
// has an accessible name in that language, the screen-share button's name
// has the word outside checks look for, the choice made in settings is
// remembered; axe-core finds nothing serious or critical on the home,
// pre-join and call pages, at phone and desktop widths.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startParley } from '../lib/parley.js';
import { launch, waitUntil, closeAll } from '../lib/browsers.js';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const catalogue = (lang) => JSON.parse(readFileSync(new URL(`../../../web/static/i18n/${lang}.json`, import.meta.url), 'utf8'));
const en = catalogue('en');
const shareWord = { en: /share/i, fr: /partager/i, es: /compartir/i };

const parley = await startParley();
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

async function open(kind, lang) {
  const browser = await launch(kind, lang ? { lang } : {});
  const page = await browser.newPage();
  const p = { name: `${kind}-${lang}`, kind, browser, page, console: [] };
  page.on('pageerror', (e) => p.console.push(`pageerror: ${e.message}`));
  people.push(p);
  return p;
}

/**
 * controlNames lists every visible control of the page with its
 * aria-label (the contract: each has one, in the page's language).
 */
const controlNames = (page) => page.evaluate(() => [...document.querySelectorAll('button, input, select, [role=menuitem]')]
  .filter((el) => el.getClientRects().length > 0)
  .map((el) => ({ id: el.id || el.className, label: el.getAttribute('aria-label') ?? '' })));

/** checkNames fails on a control without a name, or named in English while the page is not. */
function checkNames(controls, lang) {
  const target = new Set(Object.values(catalogue(lang)).flatMap((v) => (typeof v === 'string' ? [v] : Object.values(v))));
  const english = new Set(Object.values(en).filter((v) => typeof v === 'string'));
  assert.ok(controls.length >= 3, `only ${controls.length} controls seen`);
  for (const c of controls) {
    assert.ok(c.label.trim(), `control ${c.id} has no aria-label`);
    if (lang !== 'en') assert.ok(!english.has(c.label) || target.has(c.label), `control ${c.id} is named in English: ${c.label}`);
  }
}

for (const [kind, lang] of [['chromium', 'fr'], ['firefox', 'fr'], ['chromium', 'es'], ['firefox', 'es']]) {
  test(`the page is in ${lang} under a ${lang} browser (${kind})`, async () => {
    const p = await open(kind, `${lang}-${lang.toUpperCase()}`);
    const cat = catalogue(lang);
    await p.page.goto(`${parley.base}/`);
    await waitUntil(() => p.page.evaluate(() => document.getElementById('home-start').textContent !== ''), 10_000, () => p.console.join('\n'));
    assert.equal(await p.page.evaluate(() => document.documentElement.lang), lang);
    assert.equal(await p.page.$eval('#home-start', (e) => e.textContent), cat['home.start']);
    checkNames(await controlNames(p.page), lang);

    await p.page.goto(`${parley.base}/salle-${lang}?name=${kind}&join=1`);
    await waitUntil(() => p.page.evaluate(() => window.parley?.status.phase === 'in-call'), 30_000, () => p.console.join('\n'));
    assert.equal(await p.page.evaluate(() => document.documentElement.lang), lang);
    const share = await p.page.$eval('#toggle-share', (e) => e.getAttribute('aria-label'));
    assert.match(share, shareWord[lang]);
    assert.equal(share, cat['controls.share']);
    assert.equal(await p.page.$eval('#people-title', (e) => e.textContent), cat['people.title'].one.replace('{count}', '1'));
    checkNames(await controlNames(p.page), lang);
    await p.browser.close();
  });
}

test('a language chosen in settings replaces the browser\'s and is remembered (Chromium)', async () => {
  const p = await open('chromium', 'en-US');
  await p.page.goto(`${parley.base}/lingo?name=lee&join=1`);
  await waitUntil(() => p.page.evaluate(() => window.parley?.status.phase === 'in-call'), 30_000, () => p.console.join('\n'));
  assert.match(await p.page.$eval('#toggle-share', (e) => e.getAttribute('aria-label')), shareWord.en);
  await p.page.click('#open-settings');
  await p.page.select('#settings-lang', 'es');
  await waitUntil(() => p.page.evaluate(() => document.documentElement.lang === 'es'), 10_000, () => 'the language did not switch');
  assert.match(await p.page.$eval('#toggle-share', (e) => e.getAttribute('aria-label')), shareWord.es);
  assert.equal(await p.page.$eval('#toggle-mic', (e) => e.getAttribute('aria-label')), catalogue('es')['controls.micOff']);
  await p.page.goto(`${parley.base}/`);
  await waitUntil(() => p.page.evaluate(() => document.getElementById('home-start').textContent !== ''), 10_000, () => 'home did not load');
  assert.equal(await p.page.evaluate(() => document.documentElement.lang), 'es');
  assert.equal(await p.page.$eval('#home-lang', (e) => e.value), 'es');
  await p.browser.close();
});

/** axe runs axe-core on the page and returns its serious and critical findings. */
async function axe(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
}

for (const kind of ['chromium', 'firefox']) {
  test(`axe-core finds nothing serious on the home, pre-join and call pages, at 360 and 1920 px (${kind})`, async () => {
    const p = await open(kind, 'en-US');
    for (const [width, height] of [[360, 740], [1920, 1080]]) {
      await p.page.setViewport({ width, height });
      await p.page.goto(`${parley.base}/`);
      await waitUntil(() => p.page.evaluate(() => document.getElementById('home-start').textContent !== ''), 10_000, () => p.console.join('\n'));
      assert.deepEqual(await axe(p.page), [], `home at ${width} px`);
      await p.page.goto(`${parley.base}/axe-room`);
      await waitUntil(() => p.page.evaluate(() => document.getElementById('prejoin-camera').options.length > 0), 20_000, () => p.console.join('\n'));
      assert.deepEqual(await axe(p.page), [], `pre-join at ${width} px`);
      await p.page.type('#prejoin-name', `axe ${width}`);
      await p.page.click('#prejoin-join');
      await waitUntil(() => p.page.evaluate(() => window.parley?.status.phase === 'in-call'), 30_000, () => p.console.join('\n'));
      assert.deepEqual(await axe(p.page), [], `call at ${width} px`);
      await p.page.click('#toggle-people');
      assert.deepEqual(await axe(p.page), [], `call with the people panel at ${width} px`);
      await p.page.click('#toggle-chat');
      assert.deepEqual(await axe(p.page), [], `call with the chat at ${width} px`);
      // Nothing scrolls sideways.
      assert.ok(await p.page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), `the call page scrolls sideways at ${width} px`);
      await p.page.click('#leave');
      await waitUntil(() => p.page.evaluate(() => !document.getElementById('left').hidden), 10_000, () => 'leave did not show the left screen');
      assert.deepEqual(await axe(p.page), [], `left screen at ${width} px`);
    }
    await p.browser.close();
  });
}

test('every control is reachable by keyboard with a visible focus (Chromium)', async () => {
  const p = await open('chromium', 'en-US');
  await p.page.goto(`${parley.base}/keys?name=kim&join=1`);
  await waitUntil(() => p.page.evaluate(() => window.parley?.status.phase === 'in-call'), 30_000, () => p.console.join('\n'));
  const reached = new Set();
  for (let i = 0; i < 30; i++) {
    await p.page.keyboard.press('Tab');
    const f = await p.page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return { id: el.id, outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
    });
    if (f.id) {
      reached.add(f.id);
      assert.ok(f.outline, `#${f.id} has no visible focus outline`);
    }
  }
  for (const id of ['toggle-mic', 'toggle-camera', 'toggle-share', 'toggle-hand', 'open-reactions', 'toggle-chat', 'toggle-people', 'open-settings', 'leave', 'layout-toggle']) {
    assert.ok(reached.has(id), `#${id} not reached by Tab: ${[...reached]}`);
  }
  // The shortcuts: M mutes, ? lists them.
  await p.page.keyboard.press('Escape');
  await p.page.evaluate(() => document.activeElement.blur());
  await p.page.keyboard.press('m');
  assert.equal(await p.page.$eval('#toggle-mic', (e) => e.getAttribute('aria-pressed')), 'true');
  await p.page.keyboard.press('?');
  assert.equal(await p.page.$eval('#shortcuts', (e) => e.open), true);
});
