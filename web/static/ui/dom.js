// @ts-check
/** Small DOM helpers for the UI modules. */

/**
 * byId returns the element with this id, typed by the caller.
 * @template {HTMLElement} T
 * @param {string} id
 * @param {new (...args: any[]) => T} [type]
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  if (type && !(el instanceof type)) throw new Error(`#${id} is not a ${type.name}`);
  return /** @type {T} */ (el);
}

/**
 * show makes one screen visible and hides the others.
 * @param {'home'|'prejoin'|'call'|'lobby'|'left'} screen
 */
export function show(screen) {
  for (const id of ['home', 'prejoin', 'call', 'lobby', 'left']) byId(id).hidden = id !== screen;
}

/**
 * h creates an element with text and attributes.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node|string)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, children = []) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) el.append(c);
  return el;
}

/**
 * setError shows a message in an error paragraph, or hides it for ''.
 * @param {HTMLElement} el
 * @param {string} text
 */
export function setError(el, text) {
  el.textContent = text;
  el.hidden = !text;
}
