// @ts-check
/**
 * Writing the model as SDP (as internal/jingle's sdp_write.go).
 */
import { ROLE_INITIATOR, ROLE_RESPONDER, bad, hash32 } from './model.js';
import { parseJingle } from './parse.js';
import { candidateToSDP } from './candidate.js';
import { checkSDP } from './sdpcheck.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('./model.js').Jingle} Jingle */
/** @typedef {import('./model.js').Content} Content */
/** @typedef {import('./model.js').Description} Description */
/** @typedef {import('./model.js').Feedback} Feedback */
/** @typedef {import('./model.js').Transport} Transport */
/** @typedef {import('./model.js').Fingerprint} Fingerprint */
/** @typedef {import('./model.js').SCTPMap} SCTPMap */
/** @typedef {import('./model.js').Role} Role */

// ---- model -> SDP ----

/** @param {string} senders @param {Role} role the direction of role's side */
export function direction(senders, role) {
  if (senders === '' || senders === 'both') return 'sendrecv';
  if (senders === 'none') return 'inactive';
  return senders === role ? 'sendonly' : 'recvonly';
}

/** @param {string} dir @param {Role} role */
export function sendersOf(dir, role) {
  if (dir === 'sendonly') return role;
  if (dir === 'recvonly') return role === 'initiator' ? 'responder' : 'initiator';
  return dir === 'inactive' ? 'none' : 'both';
}

/** @param {unknown} role @returns {asserts role is Role} */
export function checkRole(role) {
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
export function bundle(j) {
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
export function bundledTransport(b, c) {
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
