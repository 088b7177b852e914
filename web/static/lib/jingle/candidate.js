// @ts-check
/**
 * ICE candidates: XEP-0176 <candidate/> elements and SDP candidate lines
 * (as internal/jingle's candidate.go).
 */
import { el } from '../xml.js';
import { NS, val, attrs, bad, uint, isToken, trim, asciiLower, fields, hash32 } from './model.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('./model.js').Jingle} Jingle */
/** @typedef {import('./model.js').Candidate} Candidate */

// ---- candidates in Jingle ----

/**
 * candidateFromElement reads an XEP-0176 <candidate/>.
 * @param {El} e
 * @returns {Candidate}
 */
export function candidateFromElement(e) {
  const num = (/** @type {string} */ name, /** @type {number} */ bits, optional = false) =>
    (optional && val(e, name) === '' ? 0 : uint(val(e, name), bits, `candidate ${name}`));
  /** @type {Candidate} */
  const c = { foundation: val(e, 'foundation'), component: num('component', 8), protocol: asciiLower(val(e, 'protocol')),
    priority: num('priority', 32), ip: val(e, 'ip'), port: num('port', 16), type: val(e, 'type'),
    generation: num('generation', 8, true), network: num('network', 16, true), id: val(e, 'id'),
    relAddr: val(e, 'rel-addr'), relPort: num('rel-port', 16, true), tcpType: val(e, 'tcptype') };
  if (c.relAddr === '') c.relPort = 0; // a related port means nothing without its address
  validateCandidate(c);
  return c;
}

/** @param {Candidate} c */
export function validateCandidate(c) {
  if (!isToken(c.foundation)) throw bad('candidate: bad foundation');
  if (c.component === 0) throw bad('candidate: component 0');
  if (!isToken(c.protocol)) throw bad('candidate: bad protocol');
  if (!isToken(c.ip)) throw bad(`candidate: bad ip ${JSON.stringify(c.ip)}`);
  if (c.relAddr !== '' && !isToken(c.relAddr)) throw bad('candidate: bad rel-addr');
  if (c.id !== '' && !isToken(c.id)) throw bad('candidate: bad id');
  if (!['host', 'srflx', 'prflx', 'relay'].includes(c.type)) throw bad(`candidate: bad type ${JSON.stringify(c.type)}`);
  if (!['', 'active', 'passive', 'so'].includes(c.tcpType)) throw bad('candidate: bad tcptype');
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
