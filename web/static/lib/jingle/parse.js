// @ts-check
/**
 * Reading a <jingle/> element into the model (as internal/jingle's parse.go).
 */
import { child, children, is } from '../xml.js';
import { NS, val, ACTIONS, JingleError, bad, within, uint, isToken, trim, validSenders, validExtmapID, validSetup } from './model.js';
import { candidateFromElement } from './candidate.js';
import { validRid, validLayers, ridSenders } from './sdpcheck.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('./model.js').Jingle} Jingle */
/** @typedef {import('./model.js').Group} Group */
/** @typedef {import('./model.js').Reason} Reason */
/** @typedef {import('./model.js').Content} Content */
/** @typedef {import('./model.js').Description} Description */
/** @typedef {import('./model.js').PayloadType} PayloadType */
/** @typedef {import('./model.js').Parameter} Parameter */
/** @typedef {import('./model.js').Feedback} Feedback */
/** @typedef {import('./model.js').HeaderExtension} HeaderExtension */
/** @typedef {import('./model.js').Source} Source */
/** @typedef {import('./model.js').SourceGroup} SourceGroup */
/** @typedef {import('./model.js').Transport} Transport */

/** @param {El} e @param {string} name */
const optUint32 = (e, name) => (val(e, name) === '' ? 0 : uint(val(e, name), 32, name));

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
  const j = { action: val(e, 'action'), sid: val(e, 'sid'), initiator: val(e, 'initiator'),
    responder: val(e, 'responder'), group: null, contents: [], reason: null };
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
  const g = { semantics: val(e, 'semantics'), contents: /** @type {string[]} */ ([]) };
  if (g.semantics === '') throw bad('group without semantics');
  for (const c of children(e, 'content', NS.grouping)) {
    if (val(c, 'name') === '') throw bad('group content without name');
    g.contents.push(val(c, 'name'));
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
  const c = { creator: val(e, 'creator') || 'initiator', name: val(e, 'name'), senders: val(e, 'senders'),
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
export function newDescription(media = '') {
  return { media, ssrc: '', payloadTypes: [], feedback: [], headerExtensions: [], extmapAllowMixed: false,
    rtcpMux: false, bandwidths: [], sources: [], sourceGroups: [], rids: [], simulcast: [] };
}

/** @param {El} e @returns {Description} */
function parseDescription(e) {
  const d = newDescription(val(e, 'media'));
  d.ssrc = val(e, 'ssrc');
  if (d.media === '') throw bad('description without media');
  for (const c of e.children) {
    if (is(c, NS.rtp, 'payload-type')) d.payloadTypes.push(parsePayloadType(c));
    else if (is(c, NS.rtcpFB, 'rtcp-fb') || is(c, NS.rtcpFB, 'rtcp-fb-trr-int')) d.feedback.push(parseFeedback(c));
    else if (is(c, NS.hdrExt, 'rtp-hdrext')) d.headerExtensions.push(parseHeaderExtension(c));
    else if (is(c, NS.hdrExt, 'extmap-allow-mixed')) d.extmapAllowMixed = true;
    else if (is(c, NS.rtp, 'rtcp-mux')) d.rtcpMux = true;
    else if (is(c, NS.rtp, 'bandwidth')) {
      const value = uint(trim(c.text), 32, 'bandwidth');
      if (val(c, 'type') === '') throw bad('bandwidth without type');
      d.bandwidths.push({ type: val(c, 'type'), value });
    } else if (is(c, NS.ssma, 'source')) d.sources.push(parseSource(c));
    else if (is(c, NS.ssma, 'ssrc-group')) d.sourceGroups.push(parseSourceGroup(c));
    else if (is(c, NS.rid, 'rid')) {
      const r = { id: val(c, 'id') ?? '', senders: val(c, 'senders') ?? '', params: val(c, 'params') ?? '' };
      if (!validRid(r.id) || !ridSenders(r.senders)) throw bad(`bad rid ${JSON.stringify(r.id)}`);
      d.rids.push(r);
    } else if (is(c, NS.rid, 'simulcast')) {
      const sc = { senders: val(c, 'senders') ?? '', layers: val(c, 'layers') ?? '' };
      if (!validLayers(sc.layers) || !ridSenders(sc.senders)) throw bad(`bad simulcast ${JSON.stringify(sc.layers)}`);
      d.simulcast.push(sc);
    }
  }
  return d;
}

/** @param {El} e @returns {PayloadType} */
function parsePayloadType(e) {
  /** @type {PayloadType} */
  const pt = { id: uint(val(e, 'id'), 7, 'payload-type id'), name: val(e, 'name'),
    clockRate: optUint32(e, 'clockrate'), channels: 0, ptime: optUint32(e, 'ptime'),
    maxptime: optUint32(e, 'maxptime'), parameters: [], feedback: [] };
  if (val(e, 'channels') !== '') pt.channels = uint(val(e, 'channels'), 8, 'channels');
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
  const p = { name: val(e, 'name'), value: val(e, 'value') };
  if (p.name === '' && p.value !== '') return { name: p.value, value: '' }; // a name-less fmtp token ("0-15")
  return p.name === '' ? null : p;
}

/** @param {El} e @returns {Feedback} */
function parseFeedback(e) {
  if (e.name === 'rtcp-fb-trr-int') return { type: 'trr-int', subtype: String(uint(val(e, 'value'), 32, 'rtcp-fb-trr-int value')) };
  if (val(e, 'type') === '') throw bad('rtcp-fb without type');
  return { type: val(e, 'type'), subtype: val(e, 'subtype') };
}

/** @param {El} e @returns {HeaderExtension} */
function parseHeaderExtension(e) {
  const id = uint(val(e, 'id'), 16, 'rtp-hdrext id');
  if (!validExtmapID(id)) throw bad(`rtp-hdrext id ${id} out of range`);
  if (val(e, 'uri') === '') throw bad('rtp-hdrext without uri');
  if (!validSenders(val(e, 'senders'))) throw bad('rtp-hdrext: bad senders');
  return { id, uri: val(e, 'uri'), senders: val(e, 'senders') };
}

/** @param {El} e @returns {Source} */
function parseSource(e) {
  const s = { ssrc: uint(val(e, 'ssrc'), 32, 'source ssrc'), parameters: /** @type {Parameter[]} */ ([]) };
  for (const c of children(e, 'parameter', NS.ssma)) {
    const p = parseParameter(c);
    if (p) s.parameters.push(p);
  }
  return s;
}

/** @param {El} e @returns {SourceGroup} */
function parseSourceGroup(e) {
  const g = { semantics: val(e, 'semantics'), ssrcs: /** @type {number[]} */ ([]) };
  if (g.semantics === '') throw bad('ssrc-group without semantics');
  for (const c of children(e, 'source', NS.ssma)) g.ssrcs.push(uint(val(c, 'ssrc'), 32, 'ssrc-group source ssrc'));
  if (g.ssrcs.length === 0) throw bad('empty ssrc-group');
  return g;
}

/** @param {El} e @returns {Transport} */
function parseTransport(e) {
  /** @type {Transport} */
  const t = { ufrag: val(e, 'ufrag'), pwd: val(e, 'pwd'), fingerprints: [], candidates: [], sctp: null };
  for (const c of e.children) {
    if (is(c, NS.ice, 'candidate')) t.candidates.push(candidateFromElement(c));
    else if (is(c, NS.dtls, 'fingerprint')) {
      const fp = { hash: val(c, 'hash'), setup: val(c, 'setup'), value: trim(c.text) };
      if (fp.hash === '' || !isToken(fp.value)) throw bad('fingerprint without hash or with a bad value');
      if (!validSetup(fp.setup)) throw bad(`fingerprint: bad setup ${JSON.stringify(fp.setup)}`);
      t.fingerprints.push(fp);
    } else if (is(c, NS.sctp, 'sctpmap')) {
      t.sctp = { port: uint(val(c, 'number'), 16, 'sctpmap number'), protocol: val(c, 'protocol'), streams: optUint32(c, 'streams') };
    }
  }
  return t;
}
