// @ts-check
/**
 * The one XML helper set of the web client, the same in browsers and in
 * Node (no DOMParser): elements are plain objects {name, ns, attrs,
 * children, text}, as in the Go side's internal/xmlstream.Element. Two
 * builders (el with an explicit namespace, x with written XML's
 * inheritance), attribute reads where absent is undefined, child lookups,
 * serialize and parse.
 *
 * parse reads one well-formed element of the XML XMPP allows (RFC 6120 §11:
 * no DOCTYPE, comments or processing instructions; an XML declaration may
 * lead). Attributes with a prefix other than xml: are checked and dropped,
 * as the server's decoder does. Mixed content is simplified: all character
 * data directly inside an element is concatenated into text.
 */

/** The namespace of the xml: prefix. */
export const NS_XML = 'http://www.w3.org/XML/1998/namespace';

/** Limits of parse: input longer or nested deeper is refused. */
export const MAX_LENGTH = 1 << 20;
export const MAX_DEPTH = 100;

/**
 * @typedef {object} El
 * @property {string} name local name
 * @property {string} ns namespace URI ('' for none)
 * @property {Record<string, string>} attrs attributes other than namespace declarations; xml:lang keeps its prefix
 * @property {El[]} children
 * @property {string} text character data directly inside
 */

/** XmlError is input that is not an element parse accepts. */
export class XmlError extends Error {
  /** @param {string} message @param {number} offset where in the input */
  constructor(message, offset) {
    super(`${message} at offset ${offset}`);
    this.name = 'XmlError';
    this.offset = offset;
  }
}

/**
 * el builds an element in an explicit namespace. Attributes whose value is
 * undefined are left out; null and undefined children are skipped.
 * @param {string} name
 * @param {string} ns
 * @param {Record<string, string|undefined>} [attrs]
 * @param {(El|null|undefined)[]} [children]
 * @returns {El}
 */
export function el(name, ns, attrs = {}, children = []) {
  /** @type {Record<string, string>} */
  const a = Object.create(null);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) a[k] = v;
  /** @type {El[]} */
  const kids = [];
  for (const c of children) if (c) kids.push(c);
  return { name, ns, attrs: a, children: kids, text: '' };
}

/**
 * x builds an element as written XML reads: an xmlns attribute sets its
 * namespace; without one the element takes its parent's (children are given
 * theirs when attached here). String children are text; attributes whose
 * value is undefined are left out.
 * @param {string} name
 * @param {Record<string, string|undefined>} [attrs]
 * @param {(El|string)[]} [children]
 * @returns {El}
 */
export function x(name, attrs = {}, children = []) {
  const e = el(name, attrs.xmlns ?? '', { ...attrs, xmlns: undefined });
  for (const c of children) {
    if (typeof c === 'string') e.text += c;
    else e.children.push(c);
  }
  if (e.ns) for (const c of e.children) inherit(c, e.ns);
  return e;
}

/** @param {El} e @param {string} parentNs */
function inherit(e, parentNs) {
  if (e.ns) return;
  e.ns = parentNs;
  for (const c of e.children) inherit(c, parentNs);
}

/**
 * attr returns the attribute's value, or undefined when it is absent (an
 * empty attribute is '').
 * @param {El} e @param {string} name
 * @returns {string|undefined}
 */
export function attr(e, name) {
  return Object.prototype.hasOwnProperty.call(e.attrs, name) ? e.attrs[name] : undefined;
}

/**
 * hasAttr reports whether the attribute is present.
 * @param {El} e @param {string} name
 */
export function hasAttr(e, name) {
  return Object.prototype.hasOwnProperty.call(e.attrs, name);
}

/**
 * setAttr sets an attribute, or removes it for undefined.
 * @param {El} e @param {string} name @param {string|undefined} value
 */
export function setAttr(e, name, value) {
  if (value === undefined) delete e.attrs[name];
  else e.attrs[name] = value;
}

/** ns returns the element's namespace URI. @param {El} e */
export const ns = (e) => e.ns;
/** local returns the element's local name. @param {El} e */
export const local = (e) => e.name;
/** textOf returns the character data directly inside the element. @param {El} e */
export const textOf = (e) => e.text;

/**
 * children returns the children, or those with this name (and namespace; an
 * undefined namespace matches any).
 * @param {El} e @param {string} [name] @param {string} [ns]
 */
export function children(e, name, ns) {
  return e.children.filter((c) => (name === undefined || c.name === name) && (ns === undefined || c.ns === ns));
}

/**
 * child returns the first child with that name (and namespace), or
 * undefined; also for a missing parent.
 * @param {El|null|undefined} e @param {string} name @param {string} [ns]
 * @returns {El|undefined}
 */
export function child(e, name, ns) {
  return e?.children.find((c) => c.name === name && (ns === undefined || c.ns === ns));
}

/**
 * is reports whether e has that name and namespace.
 * @param {El|null|undefined} e @param {string} ns @param {string} name
 */
export function is(e, ns, name) {
  return !!e && e.name === name && e.ns === ns;
}

/** @param {string} s @param {boolean} inAttr */
function escape(s, inAttr) {
  let out = '';
  for (const ch of s) {
    switch (ch) {
      case '<': out += '&lt;'; break;
      case '>': out += '&gt;'; break;
      case '&': out += '&amp;'; break;
      case '"': out += inAttr ? '&quot;' : ch; break;
      case "'": out += inAttr ? '&apos;' : ch; break;
      case '\t': case '\n': case '\r':
        out += inAttr || ch === '\r' ? `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};` : ch;
        break;
      default:
        if (xmlChar(ch.codePointAt(0) ?? 0)) out += ch; // characters XML cannot carry are dropped
    }
  }
  return out;
}

/** @param {number} c a code point */
function xmlChar(c) {
  return c === 9 || c === 10 || c === 13 || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/**
 * serialize writes e, declaring its namespace where it differs from the
 * parent's; no prefixes are used.
 * @param {El} e
 * @param {string} [parentNs] the default namespace in force ('' at the top)
 * @returns {string}
 */
export function serialize(e, parentNs = '') {
  let s = `<${e.name}`;
  if (e.ns !== parentNs) s += ` xmlns="${escape(e.ns, true)}"`;
  for (const [k, v] of Object.entries(e.attrs)) s += ` ${k}="${escape(v, true)}"`;
  if (e.text === '' && e.children.length === 0) return `${s}/>`;
  s += `>${escape(e.text, false)}`;
  for (const c of e.children) s += serialize(c, e.ns);
  return `${s}</${e.name}>`;
}

// An XML Name, simplified to the characters XMPP uses plus any non-ASCII.
const NAME = /[A-Za-z_:\u00c0-\uffff][A-Za-z0-9_:.\-\u00b7\u00c0-\uffff]*/y;
const ENTITIES = /** @type {Record<string, string>} */ ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" });

/**
 * parse reads exactly one element, with optional whitespace around it and an
 * optional XML declaration before it.
 * @param {string} text
 * @returns {El}
 */
export function parse(text) {
  if (text.length > MAX_LENGTH) throw new XmlError('input too long', MAX_LENGTH);
  const p = new Parser(text);
  p.space();
  if (text.startsWith('<?xml', p.i)) {
    const end = text.indexOf('?>', p.i);
    if (end < 0) throw new XmlError('unterminated XML declaration', p.i);
    p.i = end + 2;
    p.space();
  }
  const root = p.element(new Map([['xml', NS_XML]]), '', 1);
  p.space();
  if (p.i !== text.length) throw new XmlError('content after the element', p.i);
  return root;
}

class Parser {
  /** @param {string} s */
  constructor(s) {
    this.s = s; // the input; never modified
    this.i = 0; // read position; owned by the parse call
  }

  space() {
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
   * element reads one element and what it contains.
   * @param {Map<string, string>} scope prefixes in force
   * @param {string} dflt default namespace in force
   * @param {number} depth
   * @returns {El}
   */
  element(scope, dflt, depth) {
    if (depth > MAX_DEPTH) throw new XmlError('elements nested too deeply', this.i);
    this.expect('<');
    const qname = this.name();
    const raw = this.attributes();
    for (const [k, v, at] of raw) {
      if (k === 'xmlns') dflt = v;
      else if (k.startsWith('xmlns:')) {
        if (v === '' || k === 'xmlns:xml' || k === 'xmlns:xmlns') throw new XmlError(`bad declaration ${k}`, at);
        scope = new Map(scope).set(k.slice(6), v);
      }
    }
    const [prefix, local] = splitName(qname, this.i);
    const ns = prefix === '' ? dflt : scope.get(prefix);
    if (ns === undefined) throw new XmlError(`undeclared prefix ${prefix}`, this.i);
    const e = el(local, ns);
    for (const [k, v, at] of raw) {
      if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
      const [ap, an] = splitName(k, at);
      if (ap === '') e.attrs[an] = v;
      else if (ap === 'xml') e.attrs[k] = v;
      else if (!scope.has(ap)) throw new XmlError(`undeclared prefix ${ap}`, at);
    }
    if (this.s[this.i] === '/') {
      this.i++;
      this.expect('>');
      return e;
    }
    this.expect('>');
    this.content(e, qname, scope, dflt, depth);
    return e;
  }

  /** @returns {[string, string, number][]} name, value, offset */
  attributes() {
    /** @type {[string, string, number][]} */
    const raw = [];
    for (;;) {
      const before = this.i;
      this.space();
      const c = this.s[this.i];
      if (c === '/' || c === '>') return raw;
      if (this.i === before) throw new XmlError('expected a space before an attribute', this.i);
      const at = this.i;
      const name = this.name();
      this.space();
      this.expect('=');
      this.space();
      const q = this.s[this.i];
      if (q !== '"' && q !== "'") throw new XmlError('expected a quoted value', this.i);
      const end = this.s.indexOf(q, this.i + 1);
      if (end < 0) throw new XmlError('unterminated attribute value', this.i);
      const value = this.s.slice(this.i + 1, end);
      if (value.includes('<')) throw new XmlError("'<' in an attribute value", this.i);
      this.i = end + 1;
      if (raw.some(([k]) => k === name)) throw new XmlError(`duplicate attribute ${name}`, at);
      raw.push([name, this.decode(value.replace(/[\t\n\r]/g, ' '), at), at]);
    }
  }

  /**
   * content reads character data and children up to e's end tag.
   * @param {El} e @param {string} qname @param {Map<string, string>} scope @param {string} dflt @param {number} depth
   */
  content(e, qname, scope, dflt, depth) {
    for (;;) {
      const lt = this.s.indexOf('<', this.i);
      if (lt < 0) throw new XmlError(`unclosed <${qname}>`, this.i);
      if (lt > this.i) {
        const data = this.s.slice(this.i, lt);
        if (data.includes(']]>')) throw new XmlError("']]>' in character data", this.i);
        e.text += this.decode(data.replace(/\r\n?/g, '\n'), this.i);
      }
      this.i = lt;
      if (this.s.startsWith('</', lt)) {
        this.i += 2;
        const end = this.name();
        if (end !== qname) throw new XmlError(`</${end}> closes <${qname}>`, lt);
        this.space();
        this.expect('>');
        return;
      }
      if (this.s.startsWith('<![CDATA[', lt)) {
        const end = this.s.indexOf(']]>', lt);
        if (end < 0) throw new XmlError('unterminated CDATA section', lt);
        e.text += this.checkChars(this.s.slice(lt + 9, end), lt);
        this.i = end + 3;
        continue;
      }
      if (this.s.startsWith('<!', lt) || this.s.startsWith('<?', lt)) {
        throw new XmlError('comments, DOCTYPEs and processing instructions are not allowed', lt);
      }
      e.children.push(this.element(scope, dflt, depth + 1));
    }
  }

  /**
   * decode replaces entity and character references and checks characters.
   * @param {string} s @param {number} at
   */
  decode(s, at) {
    this.checkChars(s, at);
    if (!s.includes('&')) return s;
    return s.replace(/&([^;&]*)(;?)/g, (_, ref, semi) => {
      if (!semi) throw new XmlError("bare '&'", at);
      if (ENTITIES[ref] !== undefined) return ENTITIES[ref];
      const code = /^#x[0-9a-fA-F]{1,6}$/.test(ref) ? parseInt(ref.slice(2), 16)
        : /^#[0-9]{1,7}$/.test(ref) ? parseInt(ref.slice(1), 10) : -1;
      if (!xmlChar(code)) throw new XmlError(`unknown or invalid reference &${ref};`, at);
      return String.fromCodePoint(code);
    });
  }

  /** @param {string} s @param {number} at */
  checkChars(s, at) {
    for (const ch of s) {
      if (!xmlChar(ch.codePointAt(0) ?? 0)) throw new XmlError('character not allowed in XML', at);
    }
    return s;
  }
}

/** @param {string} qname @param {number} at @returns {[string, string]} prefix and local name */
function splitName(qname, at) {
  const c = qname.indexOf(':');
  if (c < 0) return ['', qname];
  const prefix = qname.slice(0, c), local = qname.slice(c + 1);
  if (prefix === '' || local === '' || local.includes(':')) throw new XmlError(`bad name ${qname}`, at);
  return [prefix, local];
}
