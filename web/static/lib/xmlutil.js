// @ts-check
/**
 * The XML helpers the XMPP layer uses, over xml.js's element model
 * ({name, ns, attrs, children, text}, shared with jingle.js): a builder
 * whose children inherit their parent's namespace as in written XML,
 * attribute reads that tell absent from empty, and child lookups.
 *
 * No DOM access: DOMParser is missing in Node, where the library is tested.
 */
import * as xml from './xml.js';

/** @typedef {import('./xml.js').El} El */
export { XmlError } from './xml.js';

/**
 * x builds an element. An xmlns attribute sets its namespace; without one
 * the element takes its parent's (children are given theirs when attached
 * here). String children are text.
 * @param {string} name
 * @param {Record<string, string|undefined>} [attrs] undefined values are left out
 * @param {(El|string)[]} [children]
 * @returns {El}
 */
export function x(name, attrs = {}, children = []) {
  /** @type {El} */
  const el = { name, ns: '', attrs: Object.create(null), children: [], text: '' };
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    if (k === 'xmlns') el.ns = v;
    else el.attrs[k] = v;
  }
  for (const c of children) {
    if (typeof c === 'string') el.text += c;
    else el.children.push(c);
  }
  if (el.ns) for (const c of el.children) inherit(c, el.ns);
  return el;
}

/** @param {El} el @param {string} parentNs */
function inherit(el, parentNs) {
  if (el.ns) return;
  el.ns = parentNs;
  for (const c of el.children) inherit(c, parentNs);
}

/** @param {El} el @param {string} name @returns {string|undefined} */
export function attr(el, name) {
  return Object.prototype.hasOwnProperty.call(el.attrs, name) ? el.attrs[name] : undefined;
}

/** setAttr sets an attribute, or removes it for undefined. @param {El} el @param {string} name @param {string|undefined} value */
export function setAttr(el, name, value) {
  if (value === undefined) delete el.attrs[name];
  else el.attrs[name] = value;
}

/** @param {El} el */
export const ns = (el) => el.ns;
/** @param {El} el */
export const local = (el) => el.name;
/** @param {El} el */
export const textOf = (el) => el.text;

/**
 * kids returns the children, or those with this local name (and namespace).
 * @param {El} el
 * @param {string} [name]
 * @param {string} [namespace]
 */
export function kids(el, name, namespace) {
  return el.children.filter((c) => (name === undefined || c.name === name) && (namespace === undefined || c.ns === namespace));
}

/**
 * kid returns the first child with this local name (and namespace).
 * @param {El} el
 * @param {string} name
 * @param {string} [namespace]
 * @returns {El|undefined}
 */
export function kid(el, name, namespace) {
  return el.children.find((c) => c.name === name && (namespace === undefined || c.ns === namespace));
}

/**
 * serialize writes an element, declaring its namespace where it differs
 * from the parent's (no prefixes).
 * @param {El} el
 * @returns {string}
 */
export function serialize(el) {
  return xml.serialize(el);
}

/**
 * parseXml reads exactly one element (leading and trailing whitespace
 * allowed, and an XML declaration before it); xml.js's XmlError otherwise.
 * @param {string} text
 * @returns {El}
 */
export function parseXml(text) {
  return xml.parse(text);
}
