// @ts-check
/**
 * Reading SDP into the model (as internal/jingle's sdp_read.go).
 */
import { MAX_SDP_SIZE, bad, within, uint, isText, trim, asciiLower, fields } from './model.js';
import { newDescription } from './parse.js';
import { candidateFromSDP } from './candidate.js';
import { groupElement, contentElement } from './element.js';
import { sendersOf, checkRole, bundle, bundledTransport } from './sdpwrite.js';
import { checkSDP, validRid, validLayers } from './sdpcheck.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('./model.js').Jingle} Jingle */
/** @typedef {import('./model.js').Content} Content */
/** @typedef {import('./model.js').Description} Description */
/** @typedef {import('./model.js').HeaderExtension} HeaderExtension */
/** @typedef {import('./model.js').Transport} Transport */
/** @typedef {import('./model.js').SCTPMap} SCTPMap */
/** @typedef {import('./model.js').Candidate} Candidate */
/** @typedef {import('./model.js').Role} Role */

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
