// @ts-check
/**
 * The Jingle <-> SDP translation conference.js needs, in the shapes it
 * needs: the focus's contents to an SDP offer, our SDP answer to contents,
 * ICE candidates both ways. The mapping is internal/jingle's (Unified
 * Plan, content name = mid); see that package for the XEPs covered.
 *
 * This is the web client's own narrow bridge. When web/static/lib/jingle.js
 * (the shared JS translation) is available, these functions are the place
 * to delegate to it.
 */
import { x, attr, kid, kids, textOf } from './xmlutil.js';

/** @typedef {import('./xmlutil.js').El} El */

const NS = {
  rtp: 'urn:xmpp:jingle:apps:rtp:1',
  fb: 'urn:xmpp:jingle:apps:rtp:rtcp-fb:0',
  hdrext: 'urn:xmpp:jingle:apps:rtp:rtp-hdrext:0',
  ssma: 'urn:xmpp:jingle:apps:rtp:ssma:0',
  ice: 'urn:xmpp:jingle:transports:ice-udp:1',
  dtls: 'urn:xmpp:jingle:apps:dtls:0',
};

/** BridgeError is a description that cannot be translated. */
export class BridgeError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'BridgeError';
  }
}

/** Content senders of the initiator's SDP, by direction, and back. */
const INITIATOR_DIR = { initiator: 'sendonly', responder: 'recvonly', both: 'sendrecv', none: 'inactive' };
const RESPONDER_SENDERS = { sendonly: 'responder', recvonly: 'initiator', sendrecv: 'both', inactive: 'none' };

// Visible ASCII without spaces: nothing that could break an SDP line apart.
const TOKEN = /^[\x21-\x7e]+$/;

/** @param {string} s @param {string} what */
function token(s, what) {
  if (!TOKEN.test(s)) throw new BridgeError(`${what} ${JSON.stringify(s.slice(0, 40))} is not a valid SDP word`);
  return s;
}

/** @param {string|undefined} s @param {string} what @param {number} max */
function uint(s, what, max) {
  if (s === undefined || !/^[0-9]{1,10}$/.test(s) || Number(s) > max) throw new BridgeError(`${what} ${JSON.stringify(s)} is not a number up to ${max}`);
  return s;
}

/**
 * offerToSdp writes the focus's offer: every content, in order, bundled.
 * @param {El[]} contents <content/> elements of the current offer
 * @param {number} version the o= session version (grows with each offer)
 * @returns {string}
 */
export function offerToSdp(contents, version) {
  if (contents.length === 0) throw new BridgeError('an offer without contents');
  const names = contents.map((c) => token(attr(c, 'name') ?? '', 'content name'));
  const lines = ['v=0', `o=- 1 ${version} IN IP4 0.0.0.0`, 's=-', 't=0 0', `a=group:BUNDLE ${names.join(' ')}`, 'a=msid-semantic: WMS *'];
  for (const c of contents) lines.push(...mediaSection(c));
  return lines.join('\r\n') + '\r\n';
}

/** @param {El} c */
function mediaSection(c) {
  const name = attr(c, 'name') ?? '';
  const d = kid(c, 'description', NS.rtp);
  const t = kid(c, 'transport', NS.ice);
  if (!d) throw new BridgeError(`content ${name} has no RTP description`);
  if (!t) throw new BridgeError(`content ${name} has no ICE-UDP transport`);
  const media = attr(d, 'media') ?? '';
  if (media !== 'audio' && media !== 'video') throw new BridgeError(`content ${name}: unsupported media ${JSON.stringify(media)}`);
  const pts = kids(d, 'payload-type', NS.rtp);
  if (pts.length === 0) throw new BridgeError(`content ${name} has no payload types`);
  const senders = /** @type {keyof typeof INITIATOR_DIR} */ (attr(c, 'senders') ?? 'both');
  const dir = INITIATOR_DIR[senders];
  if (!dir) throw new BridgeError(`content ${name}: bad senders ${JSON.stringify(senders)}`);
  const ids = pts.map((p) => uint(attr(p, 'id'), 'payload type', 127));
  const out = [`m=${media} 9 UDP/TLS/RTP/SAVPF ${ids.join(' ')}`, 'c=IN IP4 0.0.0.0'];
  for (const b of kids(d, 'bandwidth', NS.rtp)) out.push(`b=${token(attr(b, 'type') ?? '', 'bandwidth type')}:${uint(textOf(b).trim(), 'bandwidth', 0xffffffff)}`);
  out.push(...transportLines(t, name));
  out.push(`a=mid:${name}`, `a=${dir}`);
  if (kid(d, 'rtcp-mux', NS.rtp)) out.push('a=rtcp-mux');
  if (kid(d, 'extmap-allow-mixed', NS.hdrext)) out.push('a=extmap-allow-mixed');
  for (const h of kids(d, 'rtp-hdrext', NS.hdrext)) {
    out.push(`a=extmap:${uint(attr(h, 'id'), 'extension id', 4351)} ${token(attr(h, 'uri') ?? '', 'extension uri')}`);
  }
  for (const fb of kids(d, 'rtcp-fb', NS.fb)) out.push(`a=rtcp-fb:* ${feedback(fb)}`);
  for (const p of pts) out.push(...payloadLines(p));
  out.push(...sourceLines(d));
  return out;
}

/** @param {El} t @param {string} name */
function transportLines(t, name) {
  const out = [];
  const ufrag = attr(t, 'ufrag'), pwd = attr(t, 'pwd');
  if (!ufrag || !pwd) throw new BridgeError(`content ${name}: transport without ufrag and pwd`);
  out.push(`a=ice-ufrag:${token(ufrag, 'ufrag')}`, `a=ice-pwd:${token(pwd, 'pwd')}`);
  const fps = kids(t, 'fingerprint', NS.dtls);
  if (fps.length === 0) throw new BridgeError(`content ${name}: no DTLS fingerprint`);
  for (const fp of fps) out.push(`a=fingerprint:${token(attr(fp, 'hash') ?? '', 'hash')} ${token(textOf(fp).trim(), 'fingerprint')}`);
  const setup = attr(fps[0], 'setup') ?? 'actpass';
  if (!['actpass', 'active', 'passive'].includes(setup)) throw new BridgeError(`content ${name}: bad setup ${setup}`);
  out.push(`a=setup:${setup}`);
  for (const cand of kids(t, 'candidate', NS.ice)) out.push(`a=${candidateLine(cand)}`);
  return out;
}

/** @param {El} p */
function payloadLines(p) {
  const id = attr(p, 'id') ?? '';
  const out = [];
  const name = attr(p, 'name');
  if (name) {
    const rate = uint(attr(p, 'clockrate'), 'clock rate', 0xffffffff);
    const ch = attr(p, 'channels');
    out.push(`a=rtpmap:${id} ${token(name, 'codec')}/${rate}${ch && ch !== '1' ? `/${uint(ch, 'channels', 255)}` : ''}`);
  }
  const params = kids(p, 'parameter', NS.rtp).map((q) => {
    const n = attr(q, 'name') ?? '', v = attr(q, 'value') ?? '';
    if (/[;\s]/.test(n + v)) throw new BridgeError(`payload ${id}: bad parameter ${JSON.stringify(n)}`);
    return v === '' ? n : `${n}=${v}`;
  });
  if (params.length) out.push(`a=fmtp:${id} ${params.join(';')}`);
  for (const fb of kids(p, 'rtcp-fb', NS.fb)) out.push(`a=rtcp-fb:${id} ${feedback(fb)}`);
  for (const tr of kids(p, 'rtcp-fb-trr-int', NS.fb)) out.push(`a=rtcp-fb:${id} trr-int ${uint(attr(tr, 'value'), 'trr-int', 0xffffffff)}`);
  for (const key of /** @type {const} */ (['ptime', 'maxptime'])) {
    const v = attr(p, key);
    if (v) out.push(`a=${key}:${uint(v, key, 0xffffffff)}`);
  }
  return out;
}

/** @param {El} fb */
function feedback(fb) {
  const type = token(attr(fb, 'type') ?? '', 'rtcp-fb type');
  const sub = attr(fb, 'subtype');
  return sub ? `${type} ${sub.split(' ').map((s) => token(s, 'rtcp-fb subtype')).join(' ')}` : type;
}

/** @param {El} d */
function sourceLines(d) {
  const out = [];
  let msid = '';
  for (const g of kids(d, 'ssrc-group', NS.ssma)) {
    const ssrcs = kids(g, 'source', NS.ssma).map((s) => uint(attr(s, 'ssrc'), 'ssrc', 0xffffffff));
    out.push(`a=ssrc-group:${token(attr(g, 'semantics') ?? '', 'ssrc-group semantics')} ${ssrcs.join(' ')}`);
  }
  for (const s of kids(d, 'source', NS.ssma)) {
    const ssrc = uint(attr(s, 'ssrc'), 'ssrc', 0xffffffff);
    for (const p of kids(s, 'parameter', NS.ssma)) {
      const n = token(attr(p, 'name') ?? '', 'source parameter');
      const v = attr(p, 'value') ?? '';
      if (/[\r\n]/.test(v)) throw new BridgeError('source parameter with a line break');
      out.push(v ? `a=ssrc:${ssrc} ${n}:${v}` : `a=ssrc:${ssrc} ${n}`);
      if (n === 'msid' && !msid) msid = v;
    }
  }
  // Unified Plan browsers take the stream from a=msid, not a=ssrc.
  if (msid) out.unshift(`a=msid:${msid}`);
  return out;
}

/**
 * candidateLine writes an XEP-0176 <candidate/> as an SDP candidate
 * attribute (without "a=").
 * @param {El} c
 */
export function candidateLine(c) {
  const f = (/** @type {string} */ n) => token(attr(c, n) ?? '', `candidate ${n}`);
  let s = `candidate:${f('foundation')} ${uint(attr(c, 'component'), 'component', 255)} ${f('protocol')} ${uint(attr(c, 'priority'), 'priority', 0xffffffff)} ${f('ip')} ${uint(attr(c, 'port'), 'port', 65535)} typ ${f('type')}`;
  const raddr = attr(c, 'rel-addr');
  if (raddr) s += ` raddr ${token(raddr, 'rel-addr')} rport ${uint(attr(c, 'rel-port') ?? '0', 'rel-port', 65535)}`;
  const tcptype = attr(c, 'tcptype');
  if (tcptype) s += ` tcptype ${token(tcptype, 'tcptype')}`;
  s += ` generation ${uint(attr(c, 'generation') ?? '0', 'generation', 255)}`;
  return s;
}

/**
 * candidateElement reads an SDP candidate (with or without "a=") into an
 * XEP-0176 <candidate/>.
 * @param {string} line
 * @returns {El}
 */
export function candidateElement(line) {
  const rest = line.trim().replace(/^a=/, '');
  if (!rest.startsWith('candidate:')) throw new BridgeError('not a candidate line');
  const f = rest.slice('candidate:'.length).split(/\s+/);
  if (f.length < 8 || f[6] !== 'typ') throw new BridgeError(`malformed candidate ${JSON.stringify(rest.slice(0, 80))}`);
  /** @type {Record<string, string>} */
  const a = {
    foundation: token(f[0], 'foundation'),
    component: uint(f[1], 'component', 255),
    protocol: token(f[2].toLowerCase(), 'protocol'),
    priority: uint(f[3], 'priority', 0xffffffff),
    ip: token(f[4], 'ip'),
    port: uint(f[5], 'port', 65535),
    type: token(f[7], 'type'),
    generation: '0',
    network: '0',
  };
  for (let i = 8; i + 1 < f.length; i += 2) {
    const v = f[i + 1];
    if (f[i] === 'raddr') a['rel-addr'] = token(v, 'raddr');
    else if (f[i] === 'rport') a['rel-port'] = uint(v, 'rport', 65535);
    else if (f[i] === 'tcptype') a.tcptype = token(v, 'tcptype');
    else if (f[i] === 'generation') a.generation = uint(v, 'generation', 255);
    else if (f[i] === 'network-id') a.network = uint(v, 'network-id', 65535);
  }
  a.id = `c${hash(rest)}`;
  return x('candidate', a);
}

/** @param {string} s a short stable hash for candidate ids */
function hash(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * localUfrag returns the first a=ice-ufrag of a description.
 * @param {string} sdp
 */
export function localUfrag(sdp) {
  const m = /^a=ice-ufrag:(\S+)/m.exec(sdp);
  return m ? m[1] : '';
}

/**
 * @typedef {object} Section one m-line being read
 * @property {string} media
 * @property {string} port
 * @property {string[]} fmts
 * @property {Map<string, string[]>} attrs attribute name -> values, in order
 * @property {string[]} bandwidths b= lines without "b="
 */

/**
 * answerToContents reads our SDP answer (we are the Jingle responder) into
 * one <content/> per m-line, named by its mid.
 * @param {string} sdp
 * @returns {El[]}
 */
export function answerToContents(sdp) {
  const { session, sections } = splitSdp(sdp);
  return sections.map((s, i) => sectionContent(s, session, i));
}

/** @param {string} sdp */
function splitSdp(sdp) {
  /** @type {Section} */
  const session = { media: '', port: '', fmts: [], attrs: new Map(), bandwidths: [] };
  /** @type {Section[]} */
  const sections = [];
  let cur = session;
  for (const raw of sdp.split(/\r?\n/)) {
    const line = raw.trim();
    if (line.length < 2 || line[1] !== '=') continue;
    const v = line.slice(2);
    if (line[0] === 'm') {
      const [media, port, , ...fmts] = v.split(' ');
      cur = { media, port, fmts, attrs: new Map(), bandwidths: [] };
      sections.push(cur);
    } else if (line[0] === 'b') {
      cur.bandwidths.push(v);
    } else if (line[0] === 'a') {
      const colon = v.indexOf(':');
      const name = colon < 0 ? v : v.slice(0, colon);
      const list = cur.attrs.get(name) ?? [];
      list.push(colon < 0 ? '' : v.slice(colon + 1));
      cur.attrs.set(name, list);
    }
  }
  return { session, sections };
}

/**
 * @param {Section} s
 * @param {Section} session
 * @param {number} index
 * @returns {El}
 */
function sectionContent(s, session, index) {
  const one = (/** @type {string} */ n) => s.attrs.get(n)?.[0] ?? session.attrs.get(n)?.[0];
  const mid = one('mid') ?? String(index);
  let dir = ['sendrecv', 'sendonly', 'recvonly', 'inactive'].find((d) => s.attrs.has(d)) ?? 'sendrecv';
  if (s.port === '0') dir = 'inactive';
  const senders = RESPONDER_SENDERS[/** @type {keyof typeof RESPONDER_SENDERS} */ (dir)];
  /** @type {El[]} */
  const desc = [];
  /** @type {Map<string, {fmtp: string[], fb: El[], rtpmap: string}>} */
  const byPt = new Map(s.fmts.map((f) => [f, { fmtp: [], fb: [], rtpmap: '' }]));
  for (const v of s.attrs.get('rtpmap') ?? []) {
    const [pt, rest] = splitOnce(v, ' ');
    const e = byPt.get(pt);
    if (e) e.rtpmap = rest;
  }
  for (const v of s.attrs.get('fmtp') ?? []) {
    const [pt, rest] = splitOnce(v, ' ');
    byPt.get(pt)?.fmtp.push(...rest.split(';').map((p) => p.trim()).filter(Boolean));
  }
  /** @type {El[]} */
  const wildcardFb = [];
  for (const v of s.attrs.get('rtcp-fb') ?? []) {
    const [pt, rest] = splitOnce(v, ' ');
    const [type, ...sub] = rest.split(' ');
    const el = type === 'trr-int' ? x('rtcp-fb-trr-int', { xmlns: NS.fb, value: sub[0] }) : x('rtcp-fb', { xmlns: NS.fb, type, subtype: sub.length ? sub.join(' ') : undefined });
    if (pt === '*') wildcardFb.push(el);
    else byPt.get(pt)?.fb.push(el);
  }
  for (const [pt, e] of byPt) {
    const [name, rate, ch] = e.rtpmap.split('/');
    const params = e.fmtp.map((p) => {
      const [n, val] = splitOnce(p, '=');
      return x('parameter', { name: n, value: val });
    });
    desc.push(x('payload-type', { id: pt, name: name || undefined, clockrate: rate || undefined, channels: ch || undefined }, [...params, ...e.fb]));
  }
  desc.push(...wildcardFb);
  for (const v of s.attrs.get('extmap') ?? []) {
    const [idDir, uri] = splitOnce(v, ' ');
    const [id] = idDir.split('/');
    desc.push(x('rtp-hdrext', { xmlns: NS.hdrext, id, uri: uri.split(' ')[0] }));
  }
  if (s.attrs.has('extmap-allow-mixed') || session.attrs.has('extmap-allow-mixed')) desc.push(x('extmap-allow-mixed', { xmlns: NS.hdrext }));
  for (const b of s.bandwidths) {
    const [type, value] = splitOnce(b, ':');
    desc.push(x('bandwidth', { type }, [value]));
  }
  desc.push(...sources(s));
  if (s.attrs.has('rtcp-mux')) desc.push(x('rtcp-mux'));
  return x('content', { xmlns: 'urn:xmpp:jingle:1', creator: 'initiator', name: mid, senders }, [
    x('description', { xmlns: NS.rtp, media: s.media }, desc),
    transport(s, session),
  ]);
}

/** @param {Section} s @returns {El[]} */
function sources(s) {
  /** @type {Map<string, [string, string|undefined][]>} */
  const bySsrc = new Map();
  for (const v of s.attrs.get('ssrc') ?? []) {
    const [ssrc, rest] = splitOnce(v, ' ');
    const [n, val] = splitOnce(rest, ':');
    if (!bySsrc.has(ssrc)) bySsrc.set(ssrc, []);
    bySsrc.get(ssrc)?.push([n, val]);
  }
  const msid = s.attrs.get('msid')?.[0];
  /** @type {El[]} */
  const out = [];
  for (const [ssrc, params] of bySsrc) {
    if (msid && !params.some(([n]) => n === 'msid')) params.push(['msid', msid]);
    out.push(x('source', { xmlns: NS.ssma, ssrc }, params.map(([n, v]) => x('parameter', { name: n, value: v }))));
  }
  for (const v of s.attrs.get('ssrc-group') ?? []) {
    const [semantics, ...ssrcs] = v.split(' ');
    out.push(x('ssrc-group', { xmlns: NS.ssma, semantics }, ssrcs.map((ssrc) => x('source', { ssrc }))));
  }
  return out;
}

/**
 * @param {Section} s
 * @param {Section} session
 */
function transport(s, session) {
  const one = (/** @type {string} */ n) => s.attrs.get(n)?.[0] ?? session.attrs.get(n)?.[0];
  const setup = one('setup') ?? 'active';
  const fps = (s.attrs.get('fingerprint') ?? session.attrs.get('fingerprint') ?? []).map((v) => {
    const [hashName, value] = splitOnce(v, ' ');
    return x('fingerprint', { xmlns: NS.dtls, hash: hashName, setup }, [value]);
  });
  const cands = (s.attrs.get('candidate') ?? []).flatMap((v) => {
    try {
      return [candidateElement(`candidate:${v}`)];
    } catch {
      return [];
    }
  });
  return x('transport', { xmlns: NS.ice, ufrag: one('ice-ufrag'), pwd: one('ice-pwd') }, [...fps, ...cands]);
}

/** @param {string} s @param {string} sep @returns {[string, string]} */
function splitOnce(s, sep) {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}
