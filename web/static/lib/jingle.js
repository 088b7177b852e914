// @ts-check
/**
 * Jingle <-> SDP translation for the web client: the same mapping as the Go
 * package internal/jingle (read its doc comment for the rules), tested
 * against the same vectors (internal/jingle/testdata/vectors).
 *
 * Unified Plan: one Jingle <content/> per m-line, content name = a=mid.
 * Covered: XEP-0166/0167 (RTP description), 0176 (ICE-UDP), 0293 (rtcp-fb),
 * 0294 (header extensions), 0320 (DTLS fingerprint), 0338 (BUNDLE), 0339
 * (sources, ssrc-groups), 0343 (SCTP data channel).
 *
 * Elements are xml.js elements ({name, ns, attrs, children, text}). Every
 * failure is a JingleError whose condition is the stanza error to answer.
 */
import { el, attr, child, children, is } from './xml.js';

/** @typedef {import('./xml.js').El} El */

export const NS = {
  jingle: 'urn:xmpp:jingle:1',
  rtp: 'urn:xmpp:jingle:apps:rtp:1',
  rtcpFB: 'urn:xmpp:jingle:apps:rtp:rtcp-fb:0',
  hdrExt: 'urn:xmpp:jingle:apps:rtp:rtp-hdrext:0',
  ssma: 'urn:xmpp:jingle:apps:rtp:ssma:0',
  grouping: 'urn:xmpp:jingle:apps:grouping:0',
  ice: 'urn:xmpp:jingle:transports:ice-udp:1',
  dtls: 'urn:xmpp:jingle:apps:dtls:0',
  sctp: 'urn:xmpp:jingle:transports:dtls-sctp:1',
  // parley's own: RFC 8851 rids and RFC 8853 simulcast (no XEP carries them)
  rid: 'urn:parley:jingle:rid:0',
};

/** Whose SDP it is: the Jingle initiator's or the responder's. @typedef {'initiator'|'responder'} Role */
export const ROLE_INITIATOR = 'initiator';
export const ROLE_RESPONDER = 'responder';

/** The largest SDP fromSDP accepts, in UTF-8 bytes (as Go's MaxSDPSize). */
export const MAX_SDP_SIZE = 512 << 10;

const ACTIONS = new Set(['content-accept', 'content-add', 'content-modify', 'content-reject', 'content-remove',
  'description-info', 'security-info', 'session-accept', 'session-info', 'session-initiate', 'session-terminate',
  'transport-accept', 'transport-info', 'transport-reject', 'transport-replace', 'source-add', 'source-remove']);

/**
 * @typedef {{action: string, sid: string, initiator: string, responder: string,
 *   group: Group|null, contents: Content[], reason: Reason|null}} Jingle
 * @typedef {{semantics: string, contents: string[]}} Group
 * @typedef {{condition: string, text: string}} Reason
 * @typedef {{creator: string, name: string, senders: string,
 *   description: Description|null, transport: Transport|null}} Content
 * @typedef {{media: string, ssrc: string, payloadTypes: PayloadType[], feedback: Feedback[],
 *   headerExtensions: HeaderExtension[], extmapAllowMixed: boolean, rtcpMux: boolean,
 *   bandwidths: Bandwidth[], sources: Source[], sourceGroups: SourceGroup[],
 *   rids: Rid[], simulcast: Simulcast[]}} Description
 * @typedef {{id: string, senders: string, params: string}} Rid  an a=rid; senders is who sends it
 * @typedef {{senders: string, layers: string}} Simulcast  one direction of a=simulcast
 * @typedef {{id: number, name: string, clockRate: number, channels: number, ptime: number,
 *   maxptime: number, parameters: Parameter[], feedback: Feedback[]}} PayloadType
 * @typedef {{name: string, value: string}} Parameter
 * @typedef {{type: string, subtype: string}} Feedback  type 'trr-int' is <rtcp-fb-trr-int/>, its value in subtype
 * @typedef {{id: number, uri: string, senders: string}} HeaderExtension
 * @typedef {{type: string, value: number}} Bandwidth
 * @typedef {{ssrc: number, parameters: Parameter[]}} Source
 * @typedef {{semantics: string, ssrcs: number[]}} SourceGroup
 * @typedef {{ufrag: string, pwd: string, fingerprints: Fingerprint[], candidates: Candidate[],
 *   sctp: SCTPMap|null}} Transport
 * @typedef {{hash: string, setup: string, value: string}} Fingerprint
 * @typedef {{port: number, protocol: string, streams: number}} SCTPMap
 * @typedef {{foundation: string, component: number, protocol: string, priority: number, ip: string,
 *   port: number, type: string, generation: number, network: number, id: string, relAddr: string,
 *   relPort: number, tcpType: string}} Candidate
 */

/** JingleError is a Jingle element or SDP this module refuses. */
export class JingleError extends Error {
  /** @param {string} condition stanza error condition: 'bad-request' or 'feature-not-implemented' @param {string} text */
  constructor(condition, text) {
    super(`jingle: ${condition}: ${text}`);
    this.name = 'JingleError';
    this.condition = condition;
    this.text = text;
  }
}

/** @param {string} text */
const bad = (text) => new JingleError('bad-request', text);

/**
 * within runs fn, prefixing the text of the JingleError it throws.
 * @template T @param {string} prefix @param {() => T} fn @returns {T}
 */
function within(prefix, fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof JingleError) throw new JingleError(err.condition, `${prefix}: ${err.text}`);
    throw err;
  }
}

/**
 * uint parses a decimal number of at most bits bits (as Go's parseUint).
 * @param {string} s @param {number} bits @param {string} what
 */
function uint(s, bits, what) {
  if (s === '') throw bad(`missing ${what}`);
  if (!/^[0-9]+$/.test(s)) throw bad(`bad ${what} ${JSON.stringify(s)}`);
  const digits = s.replace(/^0+(?=.)/, '');
  const v = digits.length > 10 ? Infinity : Number(digits);
  if (v > 2 ** bits - 1) throw bad(`bad ${what} ${JSON.stringify(s)}`);
  return v;
}

/** @param {El} e @param {string} name */
const optUint32 = (e, name) => (attr(e, name) === '' ? 0 : uint(attr(e, name), 32, name));

/** @param {string} s visible ASCII, no spaces: what an SDP token may be */
const isToken = (s) => /^[\x21-\x7e]+$/.test(s);
/** @param {string} s '' or tokens separated by single spaces */
const isWords = (s) => s === '' || s.split(' ').every(isToken);
/** @param {string} s no control characters, nothing XML cannot carry */
function isText(s) {
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffd || c === 0xfffe || c === 0xffff) return false;
  }
  return true;
}
/** @param {string} s trims XML and SDP white space only, as Go's trimSpace */
const trim = (s) => s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
/** @param {string} s */
const asciiLower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
/** @param {string} s split on spaces only, as SDP does */
const fields = (s) => s.split(' ').filter((f) => f !== '');

/** @param {string} s 32-bit FNV-1a over the UTF-8 bytes, as Go's hash32 */
function hash32(s) {
  let h = 2166136261;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

/** @param {string} s */
const validSenders = (s) => ['', 'both', 'initiator', 'responder', 'none'].includes(s);
/** @param {number} id */
const validExtmapID = (id) => (id >= 1 && id <= 256) || (id >= 4096 && id <= 4351);
/** @param {string} s */
const validSetup = (s) => ['', 'actpass', 'active', 'passive', 'holdconn'].includes(s);

// ---- Jingle element -> model ----

/**
 * parseJingle reads a <jingle/> element, strict about what a media session
 * needs and ignoring what it does not know.
 * @param {El} e
 * @returns {Jingle}
 */
export function parseJingle(e) {
  if (!is(e, NS.jingle, 'jingle')) throw bad('not a jingle element');
  /** @type {Jingle} */
  const j = { action: attr(e, 'action'), sid: attr(e, 'sid'), initiator: attr(e, 'initiator'),
    responder: attr(e, 'responder'), group: null, contents: [], reason: null };
  if (j.action === '') throw bad('missing action');
  if (!ACTIONS.has(j.action)) throw new JingleError('feature-not-implemented', `unknown action ${JSON.stringify(j.action)}`);
  if (j.sid === '') throw bad('missing sid');
  for (const c of e.children) {
    if (is(c, NS.jingle, 'content')) j.contents.push(parseContent(c));
    else if (is(c, NS.grouping, 'group') && !j.group) j.group = parseGroup(c);
    else if (is(c, NS.jingle, 'reason')) j.reason = parseReason(c);
  }
  return j;
}

/** @param {El} e @returns {Group} */
function parseGroup(e) {
  const g = { semantics: attr(e, 'semantics'), contents: /** @type {string[]} */ ([]) };
  if (g.semantics === '') throw bad('group without semantics');
  for (const c of children(e, 'content', NS.grouping)) {
    if (attr(c, 'name') === '') throw bad('group content without name');
    g.contents.push(attr(c, 'name'));
  }
  return g;
}

/** @param {El} e @returns {Reason} */
function parseReason(e) {
  const r = { condition: '', text: '' };
  for (const c of e.children) {
    if (c.ns !== NS.jingle) continue;
    if (c.name === 'text') r.text = c.text;
    else if (r.condition === '') r.condition = c.name;
  }
  return r;
}

/** @param {El} e @returns {Content} */
function parseContent(e) {
  /** @type {Content} */
  const c = { creator: attr(e, 'creator') || 'initiator', name: attr(e, 'name'), senders: attr(e, 'senders'),
    description: null, transport: null };
  if (c.name === '') throw bad('content without name');
  if (c.creator !== 'initiator' && c.creator !== 'responder') throw bad(`content ${c.name}: bad creator`);
  if (!validSenders(c.senders)) throw bad(`content ${c.name}: bad senders ${JSON.stringify(c.senders)}`);
  return within(`content ${JSON.stringify(c.name)}`, () => {
    const d = child(e, 'description', NS.rtp);
    if (d) c.description = parseDescription(d);
    const t = child(e, 'transport', NS.ice);
    if (t) {
      c.transport = parseTransport(t);
      if (c.description && child(t, 'rtcp-mux', NS.ice)) c.description.rtcpMux = true; // where Jitsi also puts it
    }
    return c;
  });
}

/** @returns {Description} */
function newDescription(media = '') {
  return { media, ssrc: '', payloadTypes: [], feedback: [], headerExtensions: [], extmapAllowMixed: false,
    rtcpMux: false, bandwidths: [], sources: [], sourceGroups: [], rids: [], simulcast: [] };
}

/** @param {El} e @returns {Description} */
function parseDescription(e) {
  const d = newDescription(attr(e, 'media'));
  d.ssrc = attr(e, 'ssrc');
  if (d.media === '') throw bad('description without media');
  for (const c of e.children) {
    if (is(c, NS.rtp, 'payload-type')) d.payloadTypes.push(parsePayloadType(c));
    else if (is(c, NS.rtcpFB, 'rtcp-fb') || is(c, NS.rtcpFB, 'rtcp-fb-trr-int')) d.feedback.push(parseFeedback(c));
    else if (is(c, NS.hdrExt, 'rtp-hdrext')) d.headerExtensions.push(parseHeaderExtension(c));
    else if (is(c, NS.hdrExt, 'extmap-allow-mixed')) d.extmapAllowMixed = true;
    else if (is(c, NS.rtp, 'rtcp-mux')) d.rtcpMux = true;
    else if (is(c, NS.rtp, 'bandwidth')) {
      const value = uint(trim(c.text), 32, 'bandwidth');
      if (attr(c, 'type') === '') throw bad('bandwidth without type');
      d.bandwidths.push({ type: attr(c, 'type'), value });
    } else if (is(c, NS.ssma, 'source')) d.sources.push(parseSource(c));
    else if (is(c, NS.ssma, 'ssrc-group')) d.sourceGroups.push(parseSourceGroup(c));
    else if (is(c, NS.rid, 'rid')) {
      const r = { id: attr(c, 'id') ?? '', senders: attr(c, 'senders') ?? '', params: attr(c, 'params') ?? '' };
      if (!validRid(r.id) || !ridSenders(r.senders)) throw bad(`bad rid ${JSON.stringify(r.id)}`);
      d.rids.push(r);
    } else if (is(c, NS.rid, 'simulcast')) {
      const sc = { senders: attr(c, 'senders') ?? '', layers: attr(c, 'layers') ?? '' };
      if (!validLayers(sc.layers) || !ridSenders(sc.senders)) throw bad(`bad simulcast ${JSON.stringify(sc.layers)}`);
      d.simulcast.push(sc);
    }
  }
  return d;
}

/** @param {El} e @returns {PayloadType} */
function parsePayloadType(e) {
  /** @type {PayloadType} */
  const pt = { id: uint(attr(e, 'id'), 7, 'payload-type id'), name: attr(e, 'name'),
    clockRate: optUint32(e, 'clockrate'), channels: 0, ptime: optUint32(e, 'ptime'),
    maxptime: optUint32(e, 'maxptime'), parameters: [], feedback: [] };
  if (attr(e, 'channels') !== '') pt.channels = uint(attr(e, 'channels'), 8, 'channels');
  for (const c of e.children) {
    if (is(c, NS.rtp, 'parameter')) {
      const p = parseParameter(c);
      if (p) pt.parameters.push(p);
    } else if (is(c, NS.rtcpFB, 'rtcp-fb') || is(c, NS.rtcpFB, 'rtcp-fb-trr-int')) pt.feedback.push(parseFeedback(c));
  }
  return pt;
}

/** @param {El} e @returns {Parameter|null} null for one with neither name nor value */
function parseParameter(e) {
  const p = { name: attr(e, 'name'), value: attr(e, 'value') };
  if (p.name === '' && p.value !== '') return { name: p.value, value: '' }; // a name-less fmtp token ("0-15")
  return p.name === '' ? null : p;
}

/** @param {El} e @returns {Feedback} */
function parseFeedback(e) {
  if (e.name === 'rtcp-fb-trr-int') return { type: 'trr-int', subtype: String(uint(attr(e, 'value'), 32, 'rtcp-fb-trr-int value')) };
  if (attr(e, 'type') === '') throw bad('rtcp-fb without type');
  return { type: attr(e, 'type'), subtype: attr(e, 'subtype') };
}

/** @param {El} e @returns {HeaderExtension} */
function parseHeaderExtension(e) {
  const id = uint(attr(e, 'id'), 16, 'rtp-hdrext id');
  if (!validExtmapID(id)) throw bad(`rtp-hdrext id ${id} out of range`);
  if (attr(e, 'uri') === '') throw bad('rtp-hdrext without uri');
  if (!validSenders(attr(e, 'senders'))) throw bad('rtp-hdrext: bad senders');
  return { id, uri: attr(e, 'uri'), senders: attr(e, 'senders') };
}

/** @param {El} e @returns {Source} */
function parseSource(e) {
  const s = { ssrc: uint(attr(e, 'ssrc'), 32, 'source ssrc'), parameters: /** @type {Parameter[]} */ ([]) };
  for (const c of children(e, 'parameter', NS.ssma)) {
    const p = parseParameter(c);
    if (p) s.parameters.push(p);
  }
  return s;
}

/** @param {El} e @returns {SourceGroup} */
function parseSourceGroup(e) {
  const g = { semantics: attr(e, 'semantics'), ssrcs: /** @type {number[]} */ ([]) };
  if (g.semantics === '') throw bad('ssrc-group without semantics');
  for (const c of children(e, 'source', NS.ssma)) g.ssrcs.push(uint(attr(c, 'ssrc'), 32, 'ssrc-group source ssrc'));
  if (g.ssrcs.length === 0) throw bad('empty ssrc-group');
  return g;
}

/** @param {El} e @returns {Transport} */
function parseTransport(e) {
  /** @type {Transport} */
  const t = { ufrag: attr(e, 'ufrag'), pwd: attr(e, 'pwd'), fingerprints: [], candidates: [], sctp: null };
  for (const c of e.children) {
    if (is(c, NS.ice, 'candidate')) t.candidates.push(candidateFromElement(c));
    else if (is(c, NS.dtls, 'fingerprint')) {
      const fp = { hash: attr(c, 'hash'), setup: attr(c, 'setup'), value: trim(c.text) };
      if (fp.hash === '' || !isToken(fp.value)) throw bad('fingerprint without hash or with a bad value');
      if (!validSetup(fp.setup)) throw bad(`fingerprint: bad setup ${JSON.stringify(fp.setup)}`);
      t.fingerprints.push(fp);
    } else if (is(c, NS.sctp, 'sctpmap')) {
      t.sctp = { port: uint(attr(c, 'number'), 16, 'sctpmap number'), protocol: attr(c, 'protocol'), streams: optUint32(c, 'streams') };
    }
  }
  return t;
}

/**
 * candidateFromElement reads an XEP-0176 <candidate/>.
 * @param {El} e
 * @returns {Candidate}
 */
export function candidateFromElement(e) {
  const num = (/** @type {string} */ name, /** @type {number} */ bits, optional = false) =>
    (optional && attr(e, name) === '' ? 0 : uint(attr(e, name), bits, `candidate ${name}`));
  /** @type {Candidate} */
  const c = { foundation: attr(e, 'foundation'), component: num('component', 8), protocol: asciiLower(attr(e, 'protocol')),
    priority: num('priority', 32), ip: attr(e, 'ip'), port: num('port', 16), type: attr(e, 'type'),
    generation: num('generation', 8, true), network: num('network', 16, true), id: attr(e, 'id'),
    relAddr: attr(e, 'rel-addr'), relPort: num('rel-port', 16, true), tcpType: attr(e, 'tcptype') };
  if (c.relAddr === '') c.relPort = 0; // a related port means nothing without its address
  validateCandidate(c);
  return c;
}

/** @param {Candidate} c */
function validateCandidate(c) {
  if (!isToken(c.foundation)) throw bad('candidate: bad foundation');
  if (c.component === 0) throw bad('candidate: component 0');
  if (!isToken(c.protocol)) throw bad('candidate: bad protocol');
  if (!isToken(c.ip)) throw bad(`candidate: bad ip ${JSON.stringify(c.ip)}`);
  if (c.relAddr !== '' && !isToken(c.relAddr)) throw bad('candidate: bad rel-addr');
  if (c.id !== '' && !isToken(c.id)) throw bad('candidate: bad id');
  if (!['host', 'srflx', 'prflx', 'relay'].includes(c.type)) throw bad(`candidate: bad type ${JSON.stringify(c.type)}`);
  if (!['', 'active', 'passive', 'so'].includes(c.tcpType)) throw bad('candidate: bad tcptype');
}

// ---- model -> Jingle element ----

/** @param {Record<string, string|number>} a @returns {Record<string, string|undefined>} empty strings and zeros left out */
function attrs(a) {
  /** @type {Record<string, string|undefined>} */
  const out = {};
  for (const [k, v] of Object.entries(a)) out[k] = v === '' || v === 0 ? undefined : String(v);
  return out;
}

/**
 * jingleElement builds the <jingle/> element.
 * @param {Jingle} j
 * @returns {El}
 */
export function jingleElement(j) {
  const e = el('jingle', NS.jingle, attrs({ action: j.action, initiator: j.initiator, responder: j.responder, sid: j.sid }));
  if (j.group) e.children.push(groupElement(j.group));
  for (const c of j.contents) e.children.push(contentElement(c));
  if (j.reason) {
    e.children.push(el('reason', NS.jingle, {}, [
      j.reason.condition ? el(j.reason.condition, NS.jingle) : null,
      j.reason.text ? { ...el('text', NS.jingle), text: j.reason.text } : null]));
  }
  return e;
}

/** @param {Group} g */
function groupElement(g) {
  return el('group', NS.grouping, { semantics: g.semantics }, g.contents.map((name) => el('content', NS.grouping, { name })));
}

/**
 * contentElement builds a <content/>, as contents of transport-info and
 * source-add need.
 * @param {Content} c
 * @returns {El}
 */
export function contentElement(c) {
  return el('content', NS.jingle, attrs({ creator: c.creator || 'initiator', name: c.name, senders: c.senders }), [
    c.description && descriptionElement(c.description), c.transport && transportElement(c.transport)]);
}

/** @param {Description} d */
function descriptionElement(d) {
  const id = (/** @type {number} */ n) => String(n);
  return el('description', NS.rtp, attrs({ media: d.media, ssrc: d.ssrc }), [
    ...d.payloadTypes.map((pt) => el('payload-type', NS.rtp,
      attrs({ id: id(pt.id), name: pt.name, clockrate: pt.clockRate, channels: pt.channels, ptime: pt.ptime, maxptime: pt.maxptime }),
      [...pt.parameters.map((p) => parameterElement(p, NS.rtp)), ...pt.feedback.map(feedbackElement)])),
    ...d.bandwidths.map((b) => ({ ...el('bandwidth', NS.rtp, { type: b.type }), text: id(b.value) })),
    ...d.feedback.map(feedbackElement),
    ...d.headerExtensions.map((x) => el('rtp-hdrext', NS.hdrExt, attrs({ id: id(x.id), uri: x.uri, senders: x.senders }))),
    d.extmapAllowMixed ? el('extmap-allow-mixed', NS.hdrExt) : null,
    ...d.sourceGroups.map((g) => el('ssrc-group', NS.ssma, { semantics: g.semantics },
      g.ssrcs.map((s) => el('source', NS.ssma, { ssrc: id(s) })))),
    ...d.sources.map((s) => el('source', NS.ssma, { ssrc: id(s.ssrc) }, s.parameters.map((p) => parameterElement(p, NS.ssma)))),
    ...d.rids.map((r) => el('rid', NS.rid, attrs({ id: r.id, senders: r.senders, params: r.params }))),
    ...d.simulcast.map((sc) => el('simulcast', NS.rid, { senders: sc.senders, layers: sc.layers })),
    d.rtcpMux ? el('rtcp-mux', NS.rtp) : null]);
}

/** @param {Parameter} p @param {string} ns */
const parameterElement = (p, ns) => el('parameter', ns, attrs({ name: p.name, value: p.value }));

/** @param {Feedback} fb */
function feedbackElement(fb) {
  if (fb.type === 'trr-int') return el('rtcp-fb-trr-int', NS.rtcpFB, { value: fb.subtype });
  return el('rtcp-fb', NS.rtcpFB, attrs({ type: fb.type, subtype: fb.subtype }));
}

/** @param {Transport} t */
function transportElement(t) {
  return el('transport', NS.ice, attrs({ pwd: t.pwd, ufrag: t.ufrag }), [
    ...t.fingerprints.map((fp) => ({ ...el('fingerprint', NS.dtls, attrs({ hash: fp.hash, setup: fp.setup })), text: fp.value })),
    t.sctp && el('sctpmap', NS.sctp, attrs({ number: String(t.sctp.port), protocol: t.sctp.protocol, streams: t.sctp.streams })),
    ...t.candidates.map(candidateElement)]);
}

/**
 * candidateElement builds an XEP-0176 <candidate/>.
 * @param {Candidate} c
 * @returns {El}
 */
export function candidateElement(c) {
  return el('candidate', NS.ice, {
    component: String(c.component), foundation: c.foundation, generation: String(c.generation),
    ...attrs({ id: c.id, ip: c.ip, network: c.network }), port: String(c.port), priority: String(c.priority),
    protocol: c.protocol, ...(c.relAddr ? { 'rel-addr': c.relAddr, 'rel-port': String(c.relPort) } : {}),
    type: c.type, ...attrs({ tcptype: c.tcpType }) });
}

// ---- candidates in SDP ----

/**
 * candidateFromSDP parses a candidate as RTCIceCandidate.candidate gives it,
 * with or without "a=". It returns null for a=end-of-candidates. The id is
 * derived from the candidate, identically in Go.
 * @param {string} line
 * @returns {Candidate|null}
 */
export function candidateFromSDP(line) {
  line = trim(line);
  if (line.startsWith('a=')) line = line.slice(2);
  if (line === 'end-of-candidates') return null;
  if (!line.startsWith('candidate:')) throw bad('not a candidate line');
  const f = fields(line.slice(10));
  if (f.length < 8 || f[6] !== 'typ' || f.length % 2 !== 0) throw bad(`malformed candidate ${JSON.stringify(line)}`);
  /** @type {Candidate} */
  const c = { foundation: f[0], component: uint(f[1], 8, 'candidate component'), protocol: asciiLower(f[2]),
    priority: uint(f[3], 32, 'candidate priority'), ip: f[4], port: uint(f[5], 16, 'candidate port'), type: f[7],
    generation: 0, network: 0, id: '', relAddr: '', relPort: 0, tcpType: '' };
  for (let i = 8; i + 1 < f.length; i += 2) {
    const v = f[i + 1];
    if (f[i] === 'raddr') c.relAddr = v;
    else if (f[i] === 'rport') c.relPort = uint(v, 16, 'candidate rport');
    else if (f[i] === 'tcptype') c.tcpType = v;
    else if (f[i] === 'generation') c.generation = uint(v, 8, 'candidate generation');
    else if (f[i] === 'network-id') c.network = uint(v, 16, 'candidate network-id');
  }
  if (c.relAddr === '') c.relPort = 0;
  validateCandidate(c);
  c.id = 'c' + hash32(candidateToSDP(c)).toString(16).padStart(8, '0');
  return c;
}

/**
 * candidateToSDP formats a candidate for RTCIceCandidate: "candidate:..."
 * without "a=".
 * @param {Candidate} c
 */
export function candidateToSDP(c) {
  let s = `candidate:${c.foundation} ${c.component} ${c.protocol} ${c.priority} ${c.ip} ${c.port} typ ${c.type}`;
  if (c.relAddr) s += ` raddr ${c.relAddr} rport ${c.relPort}`;
  if (c.tcpType) s += ` tcptype ${c.tcpType}`;
  s += ` generation ${c.generation}`;
  if (c.network) s += ` network-id ${c.network}`;
  return s;
}

// ---- model -> SDP ----

/** @param {string} senders @param {Role} role the direction of role's side */
function direction(senders, role) {
  if (senders === '' || senders === 'both') return 'sendrecv';
  if (senders === 'none') return 'inactive';
  return senders === role ? 'sendonly' : 'recvonly';
}

/** @param {string} dir @param {Role} role */
function sendersOf(dir, role) {
  if (dir === 'sendonly') return role;
  if (dir === 'recvonly') return role === 'initiator' ? 'responder' : 'initiator';
  return dir === 'inactive' ? 'none' : 'both';
}

/** @param {unknown} role @returns {asserts role is Role} */
function checkRole(role) {
  if (role !== ROLE_INITIATOR && role !== ROLE_RESPONDER) throw bad(`invalid role ${String(role)}`);
}

/**
 * jingleToSDP translates a <jingle/> element to the SDP of role's side.
 * @param {El} jingleEl
 * @param {Role} role
 */
export function jingleToSDP(jingleEl, role) {
  return toSDP(parseJingle(jingleEl), role);
}

/**
 * toSDP writes the SDP that j's contents describe from role's side; see Go's
 * ToSDP for the rules (media-level everything, BUNDLE transport sharing).
 * @param {Jingle} j
 * @param {Role} role
 * @returns {string}
 */
export function toSDP(j, role) {
  checkRole(role);
  checkSDP(j);
  const out = ['v=0', `o=- ${hash32(j.sid)} 2 IN IP4 0.0.0.0`, 's=-', 't=0 0'];
  const names = new Set(j.contents.map((c) => c.name));
  if (j.group) {
    const members = j.group.contents.filter((n) => names.has(n)); // browsers refuse groups naming absent mids
    if (members.length > 0) out.push(`a=group:${j.group.semantics} ${members.join(' ')}`);
  }
  out.push('a=msid-semantic:WMS *');
  const b = bundle(j);
  for (const c of j.contents) {
    const t = bundledTransport(b, c);
    if (t && t.sctp) dataSection(out, c, t);
    else rtpSection(out, c, t, role);
  }
  return out.join('\r\n') + '\r\n';
}

/**
 * bundle returns what the contents of j's BUNDLE group share (RFC 8843): the
 * group's first ICE credentials and first fingerprints; null without a group.
 * @param {Jingle} j
 */
function bundle(j) {
  const g = j.group;
  if (!g || g.semantics !== 'BUNDLE') return null;
  /** @type {Map<string, Transport|null>} */
  const byName = new Map();
  for (const c of j.contents) if (!byName.has(c.name)) byName.set(c.name, c.transport);
  const b = { members: new Set(g.contents), ufrag: '', pwd: '', fingerprints: /** @type {Fingerprint[]|null} */ (null) };
  for (const name of g.contents) {
    const t = byName.get(name);
    if (!t) continue;
    if (b.ufrag === '' && t.ufrag !== '') [b.ufrag, b.pwd] = [t.ufrag, t.pwd];
    if (b.fingerprints === null && t.fingerprints.length > 0) b.fingerprints = t.fingerprints;
  }
  return b;
}

/**
 * bundledTransport completes the transport of a group member that lacks
 * credentials or fingerprints with what the group shares, as Go does.
 * @param {ReturnType<typeof bundle>} b @param {Content} c
 * @returns {Transport|null}
 */
function bundledTransport(b, c) {
  const own = c.transport;
  if (!b || !b.members.has(c.name) || (own && own.ufrag !== '' && own.fingerprints.length > 0)) return own;
  /** @type {Transport} */
  const t = own ? { ...own } : { ufrag: '', pwd: '', fingerprints: [], candidates: [], sctp: null };
  if (t.ufrag === '') [t.ufrag, t.pwd] = [b.ufrag, b.pwd];
  if (t.fingerprints.length === 0) t.fingerprints = b.fingerprints ?? [];
  if (!own && t.ufrag === '' && t.fingerprints.length === 0) return null;
  return t;
}

/** @param {string[]} out @param {Content} c @param {Transport} t */
function dataSection(out, c, t) {
  const sctp = /** @type {SCTPMap} */ (t.sctp);
  out.push(`m=application 9 UDP/DTLS/SCTP ${sctp.protocol || 'webrtc-datachannel'}`, 'c=IN IP4 0.0.0.0', `a=mid:${c.name}`);
  transportLines(out, t);
  out.push(`a=sctp-port:${sctp.port}`);
}

/** @param {string[]} out @param {Content} c @param {Transport|null} t @param {Role} role */
function rtpSection(out, c, t, role) {
  const d = /** @type {Description} */ (c.description);
  const proto = t && t.fingerprints.length > 0 ? 'UDP/TLS/RTP/SAVPF' : 'RTP/AVPF';
  out.push(`m=${d.media} 9 ${proto} ${d.payloadTypes.map((pt) => pt.id).join(' ')}`, 'c=IN IP4 0.0.0.0');
  for (const b of d.bandwidths) out.push(`b=${b.type}:${b.value}`);
  out.push(`a=mid:${c.name}`, `a=${direction(c.senders, role)}`);
  transportLines(out, t);
  if (d.rtcpMux) out.push('a=rtcp-mux');
  for (const x of d.headerExtensions) {
    const dir = x.senders === '' || x.senders === 'both' ? '' : `/${direction(x.senders, role)}`;
    out.push(`a=extmap:${x.id}${dir} ${x.uri}`);
  }
  if (d.extmapAllowMixed) out.push('a=extmap-allow-mixed');
  let ptime = 0, maxptime = 0;
  for (const pt of d.payloadTypes) {
    if (pt.name !== '' && pt.clockRate !== 0) out.push(`a=rtpmap:${pt.id} ${pt.name}/${pt.clockRate}${pt.channels ? `/${pt.channels}` : ''}`);
    if (pt.parameters.length > 0) out.push(`a=fmtp:${pt.id} ${pt.parameters.map((p) => (p.value ? `${p.name}=${p.value}` : p.name)).join(';')}`);
    feedbackLines(out, String(pt.id), pt.feedback);
    ptime ||= pt.ptime;
    maxptime ||= pt.maxptime;
  }
  feedbackLines(out, '*', d.feedback);
  if (ptime) out.push(`a=ptime:${ptime}`);
  if (maxptime) out.push(`a=maxptime:${maxptime}`);
  sourceLines(out, d);
  const ridDir = (/** @type {string} */ senders) => (senders === role ? 'send' : 'recv');
  for (const r of d.rids) out.push(`a=rid:${r.id} ${ridDir(r.senders)}${r.params ? ` ${r.params}` : ''}`);
  if (d.simulcast.length > 0) out.push(`a=simulcast:${d.simulcast.map((sc) => `${ridDir(sc.senders)} ${sc.layers}`).join(' ')}`);
}

/** validRid: 1 to 16 letters, digits, '-' or '_'. @param {string} id */
function validRid(id) {
  return /^[A-Za-z0-9_-]{1,16}$/.test(id);
}

/** validLayers: an a=simulcast rid list ('~' paused, ';' layers, ',' alternatives). @param {string} s */
function validLayers(s) {
  return s.split(';').every((layer) => layer.split(',').every((alt) => validRid(alt.replace(/^~/, ''))));
}

/** @param {string} s */
function ridSenders(s) {
  return s === 'initiator' || s === 'responder';
}

/** @param {string[]} out @param {Transport|null} t */
function transportLines(out, t) {
  if (!t) return;
  if (t.ufrag) out.push(`a=ice-ufrag:${t.ufrag}`, 'a=ice-options:trickle');
  if (t.pwd) out.push(`a=ice-pwd:${t.pwd}`);
  for (const fp of t.fingerprints) out.push(`a=fingerprint:${fp.hash} ${fp.value}`);
  const setup = t.fingerprints.find((fp) => fp.setup !== '')?.setup;
  if (setup) out.push(`a=setup:${setup}`);
  for (const c of t.candidates) out.push(`a=${candidateToSDP(c)}`);
}

/** @param {string[]} out @param {string} pt @param {Feedback[]} fbs */
function feedbackLines(out, pt, fbs) {
  for (const fb of fbs) out.push(`a=rtcp-fb:${pt} ${fb.type}${fb.subtype ? ` ${fb.subtype}` : ''}`);
}

/** a=msid from the sources' msid parameters, the groups, then a=ssrc. @param {string[]} out @param {Description} d */
function sourceLines(out, d) {
  const msids = [...new Set(d.sources.flatMap((s) => s.parameters.filter((p) => p.name === 'msid' && p.value).map((p) => p.value)))];
  for (const m of msids) out.push(`a=msid:${m}`);
  for (const g of d.sourceGroups) out.push(`a=ssrc-group:${g.semantics} ${g.ssrcs.join(' ')}`);
  for (const s of d.sources) {
    for (const p of s.parameters) out.push(`a=ssrc:${s.ssrc} ${p.value ? `${p.name}:${p.value}` : p.name}`);
  }
}

/**
 * checkSDP refuses what SDP cannot carry faithfully (see Go's checkSDP): it
 * keeps a peer from injecting SDP lines, and keeps fromSDP's output
 * convertible back.
 * @param {Jingle} j
 */
function checkSDP(j) {
  if (j.contents.length === 0) throw bad('no contents');
  if (j.group && (!isToken(j.group.semantics) || !j.group.contents.every(isToken))) throw bad('bad group');
  const seen = new Set();
  for (const c of j.contents) {
    if (!isToken(c.name)) throw bad(`content name ${JSON.stringify(c.name)} is not a valid mid`);
    if (seen.has(c.name)) throw bad(`duplicate content ${JSON.stringify(c.name)}`);
    seen.add(c.name);
    within(`content ${JSON.stringify(c.name)}`, () => checkContent(c));
  }
}

/** @param {Content} c */
function checkContent(c) {
  const t = c.transport;
  if (t) {
    if ((t.ufrag !== '' && !isToken(t.ufrag)) || (t.pwd !== '' && !isToken(t.pwd))) throw bad('bad ICE ufrag or pwd');
    for (const fp of t.fingerprints) {
      if (!isToken(fp.hash) || !isToken(fp.value) || !validSetup(fp.setup)) throw bad('bad fingerprint');
    }
    t.candidates.forEach(validateCandidate);
    if (t.sctp && t.sctp.protocol !== '' && !isToken(t.sctp.protocol)) throw bad('bad sctpmap protocol');
    if (t.sctp) return;
  }
  const d = c.description;
  if (!d) throw bad('no RTP description');
  if (!isToken(d.media)) throw bad('bad media');
  if (d.payloadTypes.length === 0) throw bad('no payload types');
  const ids = new Set();
  for (const pt of d.payloadTypes) {
    if (ids.has(pt.id)) throw bad(`duplicate payload type ${pt.id}`);
    ids.add(pt.id);
    checkPayloadType(pt);
  }
  checkFeedback(d.feedback);
  for (const x of d.headerExtensions) {
    if (!validExtmapID(x.id) || !isToken(x.uri) || !validSenders(x.senders)) throw bad(`bad header extension ${x.id}`);
  }
  for (const b of d.bandwidths) if (!isToken(b.type) || b.type.includes(':')) throw bad('bad bandwidth type');
  for (const s of d.sources) {
    for (const p of s.parameters) {
      if (!isToken(p.name) || p.name.includes(':') || !isWords(p.value)) throw bad(`source ${s.ssrc}: bad parameter`);
    }
  }
  for (const g of d.sourceGroups) if (!isToken(g.semantics) || g.ssrcs.length === 0) throw bad('bad ssrc-group');
  for (const r of d.rids) if (!validRid(r.id) || !ridSenders(r.senders) || (r.params !== '' && !isToken(r.params))) throw bad(`bad rid ${r.id}`);
  const dirs = new Set();
  for (const sc of d.simulcast) {
    if (!validLayers(sc.layers) || !ridSenders(sc.senders) || dirs.has(sc.senders)) throw bad(`bad simulcast ${sc.layers}`);
    dirs.add(sc.senders);
  }
}

/** @param {PayloadType} pt */
function checkPayloadType(pt) {
  if (pt.id > 127) throw bad(`payload type id ${pt.id} out of range`);
  if (pt.name !== '' && (!isToken(pt.name) || pt.name.includes('/'))) throw bad(`payload type ${pt.id}: bad name`);
  if (!(pt.name !== '' && pt.clockRate !== 0) && pt.id >= 96) throw bad(`dynamic payload type ${pt.id} needs a name and a clock rate`);
  for (const p of pt.parameters) {
    if (!isToken(p.name) || /[=;]/.test(p.name) || p.value.includes(';') || !isText(p.value) || trim(p.value) !== p.value) {
      throw bad(`payload type ${pt.id}: bad parameter`);
    }
  }
  checkFeedback(pt.feedback);
}

/** @param {Feedback[]} fbs */
function checkFeedback(fbs) {
  for (const fb of fbs) {
    if (!isToken(fb.type) || !isWords(fb.subtype)) throw bad('bad rtcp-fb');
    if (fb.type === 'trr-int' && !(/^[0-9]+$/.test(fb.subtype) && Number(fb.subtype) <= 0xffffffff)) throw bad('bad trr-int');
  }
}

// ---- SDP -> model ----

/**
 * @typedef {{media: string, port: number, fmts: string[], attrs: [string, string][], bandwidths: string[]}} Section
 */

/**
 * sdpToJingle translates role's SDP into the Jingle elements a session-initiate,
 * session-accept or content-add carries: the contents and the BUNDLE group.
 * @param {string} sdp
 * @param {Role} role
 * @returns {{contents: El[], group: El|null}}
 */
export function sdpToJingle(sdp, role) {
  const j = fromSDP(sdp, role);
  return { contents: j.contents.map(contentElement), group: j.group && groupElement(j.group) };
}

/**
 * fromSDP reads role's SDP into a Jingle model with contents and group set
 * (action and sid left empty); see Go's FromSDP for the rules.
 * @param {string} sdp
 * @param {Role} role
 * @returns {Jingle}
 */
export function fromSDP(sdp, role) {
  checkRole(role);
  const { session, sections } = splitSDP(sdp);
  /** @type {Jingle} */
  const j = { action: '', sid: '', initiator: '', responder: '', group: null, contents: [], reason: null };
  const group = fields(first(session, 'group') ?? '');
  if (group[0] === 'BUNDLE') j.group = { semantics: 'BUNDLE', contents: group.slice(1) };
  sections.forEach((sec, i) => {
    if (sec.port === 0 && first(sec, 'bundle-only') === undefined) return;
    j.contents.push(within(`m-line ${i}`, () => sectionContent(sec, session, role)));
  });
  if (j.group) {
    const names = new Set(j.contents.map((c) => c.name));
    j.group.contents = j.group.contents.filter((n) => names.has(n));
    if (j.group.contents.length === 0) j.group = null;
  }
  const b = bundle(j);
  for (const c of j.contents) c.transport = bundledTransport(b, c);
  checkSDP(j);
  return j;
}

/** @param {{attrs: [string, string][]}} sec @param {string} name @returns {string|undefined} */
function first(sec, name) {
  return sec.attrs.find(([n]) => n === name)?.[1];
}

/** @param {string} sdp @returns {{session: Section, sections: Section[]}} */
function splitSDP(sdp) {
  if (sdp.length > MAX_SDP_SIZE || (sdp.length * 3 > MAX_SDP_SIZE && new TextEncoder().encode(sdp).length > MAX_SDP_SIZE)) {
    throw bad(`SDP larger than ${MAX_SDP_SIZE} bytes`);
  }
  /** @type {Section} */
  const session = { media: '', port: 0, fmts: [], attrs: [], bandwidths: [] };
  /** @type {Section[]} */
  const sections = [];
  let cur = session, started = false;
  for (const [n, raw] of sdp.split('\n').entries()) {
    const line = raw.replace(/\r$/, '').replace(/ +$/, '');
    if (line === '') continue;
    if (line.length < 2 || line[1] !== '=' || line[0] < 'a' || line[0] > 'z' || !isText(line)) throw bad(`malformed SDP line ${n + 1}`);
    if (!started && line !== 'v=0') throw bad('SDP does not start with v=0');
    started = true;
    const value = line.slice(2);
    if (line[0] === 'm') {
      const f = fields(value);
      if (f.length < 3) throw bad(`malformed m-line ${JSON.stringify(value)}`);
      cur = { media: f[0], port: uint(f[1].split('/')[0], 16, 'm-line port'), fmts: f.slice(3), attrs: [], bandwidths: [] };
      sections.push(cur);
    } else if (line[0] === 'a') {
      const colon = value.indexOf(':');
      cur.attrs.push(colon < 0 ? [value, ''] : [value.slice(0, colon), value.slice(colon + 1)]);
    } else if (line[0] === 'b') cur.bandwidths.push(value);
  }
  if (sections.length === 0) throw bad('SDP has no media sections');
  return { session, sections };
}

/** @param {Section} sec @param {Section} session @param {Role} role @returns {Content} */
function sectionContent(sec, session, role) {
  const mid = first(sec, 'mid') ?? '';
  if (mid === '') throw bad('no a=mid');
  let dir = 'sendrecv';
  for (const [n] of sec.attrs) if (['sendrecv', 'sendonly', 'recvonly', 'inactive'].includes(n)) dir = n;
  const transport = sectionTransport(sec, session);
  /** @type {Content} */
  const c = { creator: 'initiator', name: mid, senders: sendersOf(dir, role), description: null, transport };
  if (sec.media === 'application') {
    c.senders = 'both'; // SCTP has no direction (RFC 8841)
    c.description = newDescription('application');
    transport.sctp = sectionSCTP(sec);
  } else {
    c.description = sectionDescription(sec, session, role);
  }
  return c;
}

/** @param {Section} sec @param {Section} session @returns {Transport} */
function sectionTransport(sec, session) {
  const or = (/** @type {string} */ name) => first(sec, name) ?? first(session, name) ?? '';
  const setup = or('setup');
  const fpSource = first(sec, 'fingerprint') !== undefined ? sec : session;
  /** @type {Transport} */
  const t = { ufrag: or('ice-ufrag'), pwd: or('ice-pwd'), fingerprints: [], candidates: [], sctp: null };
  for (const [n, v] of fpSource.attrs) {
    if (n !== 'fingerprint') continue;
    const f = fields(v);
    if (f.length !== 2) throw bad(`malformed fingerprint ${JSON.stringify(v)}`);
    t.fingerprints.push({ hash: asciiLower(f[0]), setup, value: f[1] });
  }
  for (const [n, v] of sec.attrs) {
    if (n === 'candidate') t.candidates.push(/** @type {Candidate} */ (candidateFromSDP(`candidate:${v}`)));
  }
  return t;
}

/** @param {Section} sec @returns {SCTPMap} */
function sectionSCTP(sec) {
  const port = first(sec, 'sctp-port');
  if (port !== undefined) return { port: uint(port, 16, 'sctp-port'), protocol: sec.fmts[0] ?? 'webrtc-datachannel', streams: 0 };
  const map = first(sec, 'sctpmap');
  if (map === undefined) throw bad('application m-line without sctp-port');
  const f = fields(map);
  if (f.length < 2) throw bad(`malformed sctpmap ${JSON.stringify(map)}`);
  return { port: uint(f[0], 16, 'sctpmap port'), protocol: f[1], streams: f.length > 2 ? uint(f[2], 32, 'sctpmap streams') : 0 };
}

/** @param {Section} sec @param {Section} session @param {Role} role @returns {Description} */
function sectionDescription(sec, session, role) {
  const d = newDescription(sec.media);
  for (const f of sec.fmts) d.payloadTypes.push({ id: uint(f, 7, 'payload type'), name: '', clockRate: 0, channels: 0, ptime: 0, maxptime: 0, parameters: [], feedback: [] });
  for (const b of sec.bandwidths) {
    const colon = b.indexOf(':');
    d.bandwidths.push({ type: colon < 0 ? b : b.slice(0, colon), value: uint(colon < 0 ? '' : b.slice(colon + 1), 32, 'bandwidth') });
  }
  d.extmapAllowMixed = first(sec, 'extmap-allow-mixed') !== undefined || first(session, 'extmap-allow-mixed') !== undefined;
  const m = { msid: '', ptime: 0, maxptime: 0 };
  for (const [name, value] of sec.attrs) mediaAttr(d, m, name, value, role);
  for (const s of d.sources) for (const p of s.parameters) if (m.msid === '' && p.name === 'msid') m.msid = p.value;
  for (const s of d.sources) {
    if (m.msid !== '' && !s.parameters.some((p) => p.name === 'msid')) s.parameters.push({ name: 'msid', value: m.msid });
  }
  for (const pt of d.payloadTypes) [pt.ptime, pt.maxptime] = [m.ptime, m.maxptime];
  return d;
}

/**
 * mediaAttr applies one a= line of an RTP m-line.
 * @param {Description} d @param {{msid: string, ptime: number, maxptime: number}} m
 * @param {string} name @param {string} value @param {Role} role
 */
function mediaAttr(d, m, name, value, role) {
  const space = value.indexOf(' ');
  const [head, rest] = space < 0 ? [value, ''] : [value.slice(0, space), value.slice(space + 1)];
  const pt = () => {
    const id = uint(head, 7, 'payload type');
    return d.payloadTypes.find((p) => p.id === id); // lines for unlisted formats are ignored
  };
  switch (name) {
    case 'rtpmap': {
      const p = pt();
      if (!p) return;
      const parts = trim(rest).split('/');
      if (parts.length < 2 || parts.length > 3 || parts[0] === '') throw bad(`malformed rtpmap ${JSON.stringify(value)}`);
      const rate = uint(parts[1], 32, 'clock rate');
      if (rate === 0) throw bad('rtpmap: clock rate 0');
      [p.name, p.clockRate, p.channels] = [parts[0], rate, parts.length === 3 ? uint(parts[2], 8, 'channels') : 0];
      return;
    }
    case 'fmtp': {
      const p = pt();
      if (!p) return;
      for (let param of rest.split(';')) {
        param = trim(param);
        if (param === '') continue;
        const eq = param.indexOf('=');
        p.parameters.push(eq < 0 ? { name: param, value: '' } : { name: trim(param.slice(0, eq)), value: trim(param.slice(eq + 1)) });
      }
      return;
    }
    case 'rtcp-fb': return rtcpFB(d, value);
    case 'extmap': return extmap(d, value, role);
    case 'rtcp-mux': d.rtcpMux = true; return;
    case 'ssrc': return ssrc(d, value);
    case 'ssrc-group': {
      const f = fields(value);
      if (f.length < 2) throw bad(`malformed ssrc-group ${JSON.stringify(value)}`);
      d.sourceGroups.push({ semantics: f[0], ssrcs: f.slice(1).map((s) => uint(s, 32, 'ssrc-group ssrc')) });
      return;
    }
    case 'rid': {
      const f = fields(value);
      if (f.length < 2 || f.length > 3 || !validRid(f[0]) || (f[1] !== 'send' && f[1] !== 'recv')) throw bad(`malformed rid ${JSON.stringify(value)}`);
      d.rids.push({ id: f[0], senders: sendersOf(`${f[1]}only`, role), params: f[2] ?? '' });
      return;
    }
    case 'simulcast': {
      const f = fields(value);
      if (f.length !== 2 && f.length !== 4) throw bad(`malformed simulcast ${JSON.stringify(value)}`);
      for (let i = 0; i < f.length; i += 2) {
        if ((f[i] !== 'send' && f[i] !== 'recv') || !validLayers(f[i + 1])) throw bad(`malformed simulcast ${JSON.stringify(value)}`);
        d.simulcast.push({ senders: sendersOf(`${f[i]}only`, role), layers: f[i + 1] });
      }
      return;
    }
    case 'msid': if (m.msid === '') m.msid = fields(value).join(' '); return;
    case 'ptime': m.ptime = uint(value, 32, 'ptime'); return;
    case 'maxptime': m.maxptime = uint(value, 32, 'maxptime');
  }
}

/** @param {Description} d @param {string} value */
function rtcpFB(d, value) {
  const f = fields(value);
  if (f.length < 2) throw bad(`malformed rtcp-fb ${JSON.stringify(value)}`);
  const fb = { type: f[1], subtype: f.slice(2).join(' ') };
  if (fb.type === 'trr-int') fb.subtype = String(uint(fb.subtype, 32, 'trr-int'));
  if (f[0] === '*') {
    d.feedback.push(fb);
    return;
  }
  const id = uint(f[0], 7, 'payload type');
  d.payloadTypes.find((p) => p.id === id)?.feedback.push(fb);
}

/** @param {Description} d @param {string} value @param {Role} role */
function extmap(d, value, role) {
  const f = fields(value);
  if (f.length < 2) throw bad(`malformed extmap ${JSON.stringify(value)}`);
  const [id, dir] = f[0].split(/\/(.*)/s);
  /** @type {HeaderExtension} */
  const x = { id: uint(id, 16, 'extmap id'), uri: f[1], senders: '' };
  if (dir !== undefined) {
    if (!['sendrecv', 'sendonly', 'recvonly', 'inactive'].includes(dir)) throw bad(`bad extmap direction ${JSON.stringify(dir)}`);
    x.senders = sendersOf(dir, role);
  }
  if (x.senders === 'both') x.senders = '';
  d.headerExtensions.push(x);
}

/** @param {Description} d @param {string} value */
function ssrc(d, value) {
  const space = value.indexOf(' ');
  const id = uint(space < 0 ? value : value.slice(0, space), 32, 'ssrc');
  const a = space < 0 ? '' : trim(value.slice(space + 1));
  if (a === '') throw bad(`a=ssrc:${id} without attribute`);
  const colon = a.indexOf(':');
  const p = colon < 0 ? { name: a, value: '' } : { name: a.slice(0, colon), value: fields(a.slice(colon + 1)).join(' ') };
  const s = d.sources.find((x) => x.ssrc === id);
  if (s) s.parameters.push(p);
  else d.sources.push({ ssrc: id, parameters: [p] });
}
