// @ts-check
/**
 * The XML the XMPP layer handles: one element per WebSocket message
 * (RFC 7395), namespace-aware, with the restrictions of RFC 6120 §11 (no
 * DOCTYPE, comments or processing instructions inside the stream).
 *
 * Elements are plain objects so that they cross into the Jingle translation
 * (jingle.js) as serialized text: the two layers share no object model.
 *
 * No DOM access: DOMParser is missing in Node, where the library is tested.
 */

/** XmlError is text that is not the XML an XMPP stream may carry. */
export class XmlError extends Error {
  /** @param {string} message @param {number} [at] offset in the input */
  constructor(message, at) {
    super(at === undefined ? message : `${message} at offset ${at}`);
    this.name = 'XmlError';
  }
}

/**
 * El is an element. Mixed content is simplified as in the Go side
 * (internal/xmlstream): all character data directly inside the element is
 * concatenated into text.
 * @typedef {object} El
 * @property {string} name local name
 * @property {string} ns namespace URI ('' for none)
 * @property {Record<string, string>} attrs attributes other than namespace declarations
 * @property {El[]} children
 * @property {string} text
 */

/** Bounds for parseXml: a stanza deeper or larger than these is refused. */
const MAX_DEPTH = 64;
const MAX_BYTES = 1 << 20;

const XML_NS = 'http://www.w3.org/XML/1998/namespace';

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
  const el = { name, ns: '', attrs: {}, children: [], text: '' };
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

/** @param {string} s */
function escapeText(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** @param {string} s */
function escapeAttr(s) {
  return escapeText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

/**
 * serialize writes an element, declaring its namespace where it differs
 * from the parent's (no prefixes).
 * @param {El} el
 * @param {string} [parentNs] the namespace in scope; '' at the top
 * @returns {string}
 */
export function serialize(el, parentNs = '') {
  let s = `<${el.name}`;
  if (el.ns !== parentNs) s += ` xmlns="${escapeAttr(el.ns)}"`;
  for (const [k, v] of Object.entries(el.attrs)) s += ` ${k}="${escapeAttr(v)}"`;
  if (!el.text && el.children.length === 0) return `${s}/>`;
  s += `>${escapeText(el.text)}`;
  for (const c of el.children) s += serialize(c, el.ns);
  return `${s}</${el.name}>`;
}

const NAME = /[A-Za-z_\u00c0-\uffff][\w.\-\u00b7\u00c0-\uffff]*(?::[A-Za-z_\u00c0-\uffff][\w.\-\u00b7\u00c0-\uffff]*)?/y;

/**
 * parseXml reads exactly one element (leading and trailing whitespace
 * allowed, and an XML declaration before it).
 * @param {string} text
 * @returns {El}
 */
export function parseXml(text) {
  if (text.length > MAX_BYTES) throw new XmlError('element too large');
  const p = new Parser(text);
  p.skipSpace();
  if (text.startsWith('<?xml', p.i)) {
    const end = text.indexOf('?>', p.i);
    if (end < 0) throw new XmlError('unterminated XML declaration', p.i);
    p.i = end + 2;
    p.skipSpace();
  }
  const el = p.element(new Map([['xml', XML_NS]]), '', 0);
  p.skipSpace();
  if (p.i !== text.length) throw new XmlError('content after the element', p.i);
  return el;
}

class Parser {
  /** @param {string} s */
  constructor(s) {
    this.s = s; // the input; immutable
    this.i = 0; // read position; owned by the parse
  }

  skipSpace() {
    while (this.i < this.s.length && ' \t\r\n'.includes(this.s[this.i])) this.i++;
  }

  name() {
    NAME.lastIndex = this.i;
    const m = NAME.exec(this.s);
    if (!m) throw new XmlError('expected a name', this.i);
    this.i += m[0].length;
    return m[0];
  }

  /** @param {string} c */
  expect(c) {
    if (this.s[this.i] !== c) throw new XmlError(`expected '${c}'`, this.i);
    this.i++;
  }

  /**
   * @param {Map<string, string>} prefixes prefix -> namespace in scope
   * @param {string} defaultNs
   * @param {number} depth
   * @returns {El}
   */
  element(prefixes, defaultNs, depth) {
    if (depth > MAX_DEPTH) throw new XmlError('elements nested too deeply', this.i);
    this.expect('<');
    const qname = this.name();
    /** @type {[string, string][]} */
    const raw = [];
    let scope = prefixes;
    let dflt = defaultNs;
    for (;;) {
      const before = this.i;
      this.skipSpace();
      const c = this.s[this.i];
      if (c === '/' || c === '>') break;
      if (this.i === before) throw new XmlError('expected space between attributes', this.i);
      const an = this.name();
      this.skipSpace();
      this.expect('=');
      this.skipSpace();
      const v = this.attrValue();
      if (raw.some(([k]) => k === an)) throw new XmlError(`duplicate attribute ${an}`, this.i);
      raw.push([an, v]);
      if (an === 'xmlns') dflt = v;
      else if (an.startsWith('xmlns:')) {
        if (scope === prefixes) scope = new Map(prefixes);
        scope.set(an.slice(6), v);
      }
    }
    const [prefix, name] = split(qname);
    const nsUri = prefix ? scope.get(prefix) : dflt;
    if (nsUri === undefined) throw new XmlError(`undeclared prefix ${prefix}`, this.i);
    /** @type {El} */
    const el = { name, ns: nsUri, attrs: {}, children: [], text: '' };
    for (const [k, v] of raw) {
      if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
      const [ap, an] = split(k);
      if (ap && ap !== 'xml' && !scope.has(ap)) throw new XmlError(`undeclared prefix ${ap}`, this.i);
      el.attrs[ap === 'xml' ? k : an] = v;
    }
    if (this.s[this.i] === '/') {
      this.i++;
      this.expect('>');
      return el;
    }
    this.expect('>');
    for (;;) {
      const lt = this.s.indexOf('<', this.i);
      if (lt < 0) throw new XmlError(`unclosed <${qname}>`, this.i);
      if (lt > this.i) el.text += this.unescape(this.s.slice(this.i, lt));
      this.i = lt;
      if (this.s.startsWith('</', lt)) {
        this.i += 2;
        const end = this.name();
        if (end !== qname) throw new XmlError(`</${end}> closes <${qname}>`, this.i);
        this.skipSpace();
        this.expect('>');
        return el;
      }
      if (this.s.startsWith('<![CDATA[', lt)) {
        const end = this.s.indexOf(']]>', lt);
        if (end < 0) throw new XmlError('unterminated CDATA', lt);
        el.text += this.s.slice(lt + 9, end);
        this.i = end + 3;
        continue;
      }
      if (this.s.startsWith('<!', lt) || this.s.startsWith('<?', lt)) {
        throw new XmlError('comments, DOCTYPEs and processing instructions are not allowed', lt);
      }
      el.children.push(this.element(scope, dflt, depth + 1));
    }
  }

  attrValue() {
    const q = this.s[this.i];
    if (q !== '"' && q !== "'") throw new XmlError('expected a quoted value', this.i);
    const end = this.s.indexOf(q, this.i + 1);
    if (end < 0) throw new XmlError('unterminated attribute value', this.i);
    const raw = this.s.slice(this.i + 1, end);
    if (raw.includes('<')) throw new XmlError("'<' in an attribute value", this.i);
    this.i = end + 1;
    return this.unescape(raw.replace(/[\t\n\r]/g, ' '));
  }

  /** @param {string} s */
  unescape(s) {
    if (!s.includes('&')) return s;
    return s.replace(/&([^;&]*);?/g, (m, ref) => {
      if (!m.endsWith(';')) throw new XmlError(`bare '&' in ${JSON.stringify(s.slice(0, 30))}`);
      switch (ref) {
        case 'lt': return '<';
        case 'gt': return '>';
        case 'amp': return '&';
        case 'quot': return '"';
        case 'apos': return "'";
      }
      const code = /^#x[0-9a-fA-F]{1,6}$/.test(ref) ? parseInt(ref.slice(2), 16) : /^#[0-9]{1,7}$/.test(ref) ? parseInt(ref.slice(1), 10) : -1;
      if (code < 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || (code < 0x20 && code !== 9 && code !== 10 && code !== 13)) {
        throw new XmlError(`unknown or invalid reference &${ref};`);
      }
      return String.fromCodePoint(code);
    });
  }
}

/** @param {string} qname @returns {[string, string]} prefix and local name */
function split(qname) {
  const c = qname.indexOf(':');
  return c < 0 ? ['', qname] : [qname.slice(0, c), qname.slice(c + 1)];
}
