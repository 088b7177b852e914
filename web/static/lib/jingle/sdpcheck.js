// @ts-check
/**
 * What SDP cannot carry faithfully, refused before writing or after
 * reading it (as internal/jingle's sdpcheck.go).
 */
import { bad, within, isToken, isWords, isText, trim, validSenders, validExtmapID, validSetup } from './model.js';
import { validateCandidate } from './candidate.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('./model.js').Jingle} Jingle */
/** @typedef {import('./model.js').Content} Content */
/** @typedef {import('./model.js').PayloadType} PayloadType */
/** @typedef {import('./model.js').Feedback} Feedback */

/**
 * checkSDP refuses what SDP cannot carry faithfully (see Go's checkSDP): it
 * keeps a peer from injecting SDP lines, and keeps fromSDP's output
 * convertible back.
 * @param {Jingle} j
 */
export function checkSDP(j) {
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


/** validRid: 1 to 16 letters, digits, '-' or '_'. @param {string} id */
export function validRid(id) {
  return /^[A-Za-z0-9_-]{1,16}$/.test(id);
}

/** validLayers: an a=simulcast rid list ('~' paused, ';' layers, ',' alternatives). @param {string} s */
export function validLayers(s) {
  return s.split(';').every((layer) => layer.split(',').every((alt) => validRid(alt.replace(/^~/, ''))));
}

/** @param {string} s */
export function ridSenders(s) {
  return s === 'initiator' || s === 'responder';
}
