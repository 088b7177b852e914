// @ts-check
/**
 * Languages: every string a person reads comes from one JSON catalogue per
 * language (static/i18n/LANG.json). The language is the stored choice, else
 * the first of navigator.languages we have, else English. Plurals and dates
 * go through Intl; no plural rule is written here.
 *
 * A catalogue value is a string with {name} placeholders, or, for a count,
 * an object keyed by Intl.PluralRules categories ("one", "other", ...;
 * "other" is required) chosen by the variable "count".
 *
 * The pure functions (pickLanguage, translate) run in Node for the tests;
 * the rest touches the page.
 */

/** The languages with a catalogue, the first being the fallback. */
export const LANGUAGES = /** @type {const} */ (['en', 'fr', 'es']);
/** @typedef {typeof LANGUAGES[number]} Lang */
/** @typedef {Record<string, string|Record<string, string>>} Catalogue */

const STORE_KEY = 'parley.lang';

/**
 * pickLanguage returns the stored choice if it is one we have, else the
 * first browser language we have (by its primary subtag: fr-CA is fr).
 * @param {string|null|undefined} stored
 * @param {readonly string[]} browser navigator.languages
 * @returns {Lang}
 */
export function pickLanguage(stored, browser) {
  const have = /** @param {string|null|undefined} l */ (l) => /** @type {Lang|undefined} */ (LANGUAGES.find((x) => x === (l ?? '').toLowerCase().split('-')[0]));
  return have(stored) ?? browser.map(have).find(Boolean) ?? LANGUAGES[0];
}

/**
 * translate looks key up in cat and fills its placeholders. A missing key
 * gives the key itself (visible, and the catalogue test catches it).
 * @param {Catalogue} cat
 * @param {string} lang
 * @param {string} key
 * @param {Record<string, string|number>} [vars]
 */
export function translate(cat, lang, key, vars = {}) {
  let v = cat[key];
  if (v === undefined) return key;
  if (typeof v === 'object') {
    const n = Number(vars.count ?? 0);
    v = v[new Intl.PluralRules(lang).select(n)] ?? v.other ?? key;
  }
  return v.replace(/\{(\w+)\}/g, (all, name) => {
    const x = vars[name];
    if (x === undefined) return all;
    return typeof x === 'number' ? new Intl.NumberFormat(lang).format(x) : x;
  });
}

/** The language in use and its catalogue; set by loadLanguage. */
const current = {
  /** @type {Lang} */ lang: 'en',
  /** @type {Catalogue} */ cat: {},
  /** @type {Set<() => void>} */ listeners: new Set(),
};

/**
 * t translates key in the language in use.
 * @param {string} key
 * @param {Record<string, string|number>} [vars]
 */
export function t(key, vars) {
  return translate(current.cat, current.lang, key, vars);
}

/** @returns {Lang} the language in use */
export function language() {
  return current.lang;
}

/**
 * formatTime says when a date was, in the language in use.
 * @param {Date} d
 * @param {boolean} [withDate] include the day
 */
export function formatTime(d, withDate = false) {
  const opts = withDate ? { dateStyle: /** @type {const} */ ('medium'), timeStyle: /** @type {const} */ ('short') } : { timeStyle: /** @type {const} */ ('short') };
  return new Intl.DateTimeFormat(current.lang, opts).format(d);
}

/** storedLanguage reads the remembered choice, if any. */
export function storedLanguage() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null;
  }
}

/**
 * loadLanguage fetches the catalogue of lang (English if that fails),
 * makes it current, sets <html lang> and translates the page.
 * @param {Lang} lang
 */
export async function loadLanguage(lang) {
  let cat;
  try {
    const res = await fetch(`/static/i18n/${lang}.json`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    cat = await res.json();
  } catch (err) {
    console.warn(`parley: no ${lang} catalogue`, err);
    if (lang !== 'en') return loadLanguage('en');
    cat = {};
  }
  current.lang = lang;
  current.cat = cat;
  document.documentElement.lang = lang;
  applyTranslations(document);
  for (const fn of current.listeners) fn();
}

/**
 * setLanguage remembers a choice from the settings and switches to it.
 * @param {Lang} lang
 */
export async function setLanguage(lang) {
  try {
    localStorage.setItem(STORE_KEY, lang);
  } catch {
    // private mode: the choice lasts for this page only
  }
  await loadLanguage(lang);
}

/**
 * onLanguageChange calls fn after each switch of language (for text built
 * by code); it returns a function that stops that.
 * @param {() => void} fn
 */
export function onLanguageChange(fn) {
  current.listeners.add(fn);
  return () => current.listeners.delete(fn);
}

/**
 * applyTranslations fills the marked elements under root: data-i18n (text),
 * data-i18n-label (aria-label and title), data-i18n-placeholder. Every
 * control gets an aria-label in the page's language (outside checks rely
 * on it): a button its text, a field its <label>'s.
 * @param {ParentNode} root
 */
export function applyTranslations(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    const text = t(el.getAttribute('data-i18n') ?? '');
    el.textContent = text;
    if (el instanceof HTMLButtonElement && !el.hasAttribute('data-i18n-label')) el.setAttribute('aria-label', text);
    if (el instanceof HTMLLabelElement && el.htmlFor) document.getElementById(el.htmlFor)?.setAttribute('aria-label', text);
  }
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    const text = t(el.getAttribute('data-i18n-label') ?? '');
    el.setAttribute('aria-label', text);
    el.setAttribute('title', text);
  }
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.setAttribute('placeholder', t(el.getAttribute('data-i18n-placeholder') ?? ''));
}
