// The language catalogues: same keys in every language, every key used by
// the UI, every key the UI uses present; plurals and placeholders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { LANGUAGES, pickLanguage, translate } from '../static/ui/i18n.js';

const STATIC = new URL('../static/', import.meta.url);
const read = (p) => readFileSync(new URL(p, STATIC), 'utf8');
const catalogues = Object.fromEntries(LANGUAGES.map((l) => [l, JSON.parse(read(`i18n/${l}.json`))]));
const sources = ['app.js', ...readdirSync(new URL('ui/', STATIC)).filter((f) => f.endsWith('.js')).map((f) => `ui/${f}`)].map((p) => [p, read(p)]);
const html = read('index.html');
const prefixes = new Set(Object.keys(catalogues.en).map((k) => k.split('.')[0]));

/** keys the UI asks for: data-i18n* attributes and t('...') calls */
function usedKeys() {
  const used = new Map();
  for (const m of html.matchAll(/data-i18n(?:-label|-placeholder)?="([^"]+)"/g)) used.set(m[1], 'index.html');
  for (const [p, src] of sources) {
    for (const m of src.matchAll(/\bt\(\s*'([^']+)'/g)) used.set(m[1], p);
    for (const m of src.matchAll(/'data-i18n(?:-label)?':\s*'([^']+)'/g)) used.set(m[1], p);
    // keys chosen by a condition or from a table: any literal in a catalogue namespace
    for (const m of src.matchAll(/'([a-z]+)\.([A-Za-z]+)'/g)) if (prefixes.has(m[1])) used.set(`${m[1]}.${m[2]}`, p);
  }
  return used;
}

/** @param {string|object} v */
const placeholders = (v) => [...new Set((typeof v === 'string' ? v : Object.values(v).join(' ')).match(/\{\w+\}/g) ?? [])].sort();

test('every catalogue has the same keys as English, with the same placeholders', () => {
  const en = catalogues.en;
  for (const lang of LANGUAGES) {
    const cat = catalogues[lang];
    const missing = Object.keys(en).filter((k) => !(k in cat));
    const extra = Object.keys(cat).filter((k) => !(k in en));
    assert.deepEqual(missing, [], `${lang}.json lacks keys`);
    assert.deepEqual(extra, [], `${lang}.json has keys English lacks`);
    for (const [k, v] of Object.entries(cat)) {
      assert.ok(typeof v === 'string' ? v.trim() !== '' : typeof v.other === 'string', `${lang}.json ${k}: empty, or a plural without "other"`);
      assert.deepEqual(placeholders(v), placeholders(en[k]), `${lang}.json ${k}: placeholders differ from English`);
    }
  }
});

test('every key the UI uses is in every catalogue', () => {
  const used = usedKeys();
  assert.ok(used.size > 50, `only ${used.size} keys found: the scan is broken`);
  for (const lang of LANGUAGES) {
    const missing = [...used].filter(([k]) => !(k in catalogues[lang])).map(([k, where]) => `${k} (${where})`);
    assert.deepEqual(missing, [], `missing from ${lang}.json`);
  }
});

test('every catalogue key is used by the UI', () => {
  // A key counts as used when the page marks an element with it or a UI
  // module names it as a literal (t('k'), or a table of keys passed to t).
  const all = html + sources.map(([, s]) => s).join('\n');
  const unused = Object.keys(catalogues.en).filter((k) => !all.includes(`'${k}'`) && !all.includes(`"${k}"`));
  assert.deepEqual(unused, []);
});

test('plurals follow each language through Intl, placeholders are filled', () => {
  const cat = { n: { one: '{count} thing', other: '{count} things' }, hi: 'hello {name}' };
  assert.equal(translate(cat, 'en', 'n', { count: 1 }), '1 thing');
  assert.equal(translate(cat, 'en', 'n', { count: 0 }), '0 things');
  assert.equal(translate(cat, 'fr', 'n', { count: 0 }), '0 thing', 'French 0 is singular');
  assert.equal(translate(cat, 'es', 'n', { count: 2 }), '2 things');
  assert.equal(translate(cat, 'fr', 'n', { count: 1000000 }), '1\u202f000\u202f000 things', 'French "many" falls back to other, number formatted');
  assert.equal(translate(cat, 'en', 'hi', { name: 'Ana' }), 'hello Ana');
  assert.equal(translate(cat, 'en', 'hi'), 'hello {name}');
  assert.equal(translate(cat, 'en', 'nope'), 'nope');
  assert.equal(translate(catalogues.fr, 'fr', 'call.count', { count: 3 }), '3 personnes');
  assert.equal(translate(catalogues.es, 'es', 'call.count', { count: 1 }), '1 persona');
});

test('the language comes from the stored choice, else the browser, else English', () => {
  assert.equal(pickLanguage(null, ['fr-FR', 'en']), 'fr');
  assert.equal(pickLanguage(null, ['de-DE', 'es-MX']), 'es');
  assert.equal(pickLanguage(null, ['de']), 'en');
  assert.equal(pickLanguage('es', ['fr']), 'es');
  assert.equal(pickLanguage('xx', ['fr-CA']), 'fr');
  assert.equal(pickLanguage(undefined, []), 'en');
});

test('the screen-share control is named with the words outside checks look for', () => {
  assert.match(catalogues.en['controls.share'], /share/i);
  assert.match(catalogues.fr['controls.share'], /partager/i);
  assert.match(catalogues.es['controls.share'], /compartir/i);
  assert.match(catalogues.fr['controls.shareStop'], /partager/i);
  assert.match(catalogues.es['controls.shareStop'], /compartir/i);
});

test('each control\'s visible label is part of its accessible name (WCAG 2.5.3), in every language', () => {
  const pairs = [
    ['controls.micShort', 'controls.micOff'], ['controls.micShortOff', 'controls.micOn'],
    ['controls.cameraShort', 'controls.cameraOff'], ['controls.cameraShort', 'controls.cameraOn'], ['controls.cameraShort', 'controls.noCamera'],
    ['controls.shareShort', 'controls.share'], ['controls.shareShort', 'controls.shareStop'],
    ['controls.handShort', 'controls.handRaise'], ['controls.handShort', 'controls.handLower'],
    ['controls.reactionsShort', 'controls.reactions'], ['controls.chatShort', 'controls.chat'],
    ['controls.peopleShort', 'controls.people'], ['controls.settingsShort', 'controls.settings'], ['controls.leaveShort', 'controls.leave'],
  ];
  for (const lang of LANGUAGES) {
    const cat = catalogues[lang];
    for (const [short, long] of pairs) {
      assert.ok(cat[long].toLocaleLowerCase(lang).includes(cat[short].toLocaleLowerCase(lang)), `${lang}: "${cat[short]}" is not in "${cat[long]}"`);
    }
    for (const n of [1, 2]) assert.ok(translate(cat, lang, 'controls.chatUnread', { count: n }).toLocaleLowerCase(lang).includes(cat['controls.chatShort'].toLocaleLowerCase(lang)));
  }
});
