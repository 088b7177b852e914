// @ts-check
/**
 * Writing the model as a <jingle/> element (as internal/jingle's element.go).
 */
import { el } from '../xml.js';
import { NS, attrs } from './model.js';
import { candidateElement } from './candidate.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('./model.js').Jingle} Jingle */
/** @typedef {import('./model.js').Group} Group */
/** @typedef {import('./model.js').Content} Content */
/** @typedef {import('./model.js').Description} Description */
/** @typedef {import('./model.js').Parameter} Parameter */
/** @typedef {import('./model.js').Feedback} Feedback */
/** @typedef {import('./model.js').Transport} Transport */

// ---- model -> Jingle element ----

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
export function groupElement(g) {
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
