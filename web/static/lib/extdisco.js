// @ts-check
/**
 * STUN and TURN servers from the XMPP server, over XEP-0215 (External
 * Service Discovery): one <services/> query answers with every service and
 * its short-lived credentials inline, which become RTCIceServer entries.
 *
 * No DOM access.
 */
import { iq } from './xmpp.js';
import { x, attr, child, children } from './xml.js';
import { candidateFromSDP } from './jingle/candidate.js';

/** @typedef {import('./xml.js').El} El */
/** @typedef {import('./xmpp.js').XmppClient} XmppClient */

export const NS_EXTDISCO = 'urn:xmpp:extdisco:2';

/** A TURN transport a page may keep: turn over UDP, over TCP, or turns (TLS). */
/** @typedef {'udp'|'tcp'|'tls'} TurnTransport */

/**
 * @typedef {object} Service one <service/> of the answer
 * @property {string} type stun, turn or turns
 * @property {string} host
 * @property {number} port
 * @property {string} transport udp or tcp ('' when not given)
 * @property {string} username
 * @property {string} password
 * @property {number|null} expires milliseconds since the epoch, or null
 */

/**
 * fetchServices asks the domain for its STUN/TURN services.
 * @param {XmppClient} client an online client
 * @param {number} [timeoutMs] default 5000
 * @returns {Promise<Service[]>}
 */
export async function fetchServices(client, timeoutMs = 5000) {
  const res = await client.request(iq('get', client.domain, x('services', { xmlns: NS_EXTDISCO })), timeoutMs);
  const services = child(res, 'services', NS_EXTDISCO);
  return services ? parseServices(services) : [];
}

/**
 * parseServices reads a <services/> element; entries that name no host,
 * a bad port or an unknown type are left out.
 * @param {El} services
 * @returns {Service[]}
 */
export function parseServices(services) {
  /** @type {Service[]} */
  const out = [];
  for (const s of children(services, 'service', NS_EXTDISCO)) {
    const type = attr(s, 'type') ?? '';
    const host = attr(s, 'host') ?? '';
    const port = Number(attr(s, 'port') ?? (type === 'turns' ? 5349 : 3478));
    if (!['stun', 'turn', 'turns'].includes(type) || !host || !Number.isInteger(port) || port <= 0 || port > 65535) continue;
    const expiresAt = Date.parse(attr(s, 'expires') ?? '');
    out.push({
      type, host, port,
      transport: attr(s, 'transport') ?? '',
      username: attr(s, 'username') ?? '',
      password: attr(s, 'password') ?? '',
      expires: Number.isNaN(expiresAt) ? null : expiresAt,
    });
  }
  return out;
}

/**
 * toIceServers turns services into RTCIceServer entries. turnTransports,
 * when given, keeps only the TURN servers of those transports (and drops
 * STUN, useless when only relays are wanted) — a debugging aid, and what
 * the firewall tests use.
 * @param {Service[]} services
 * @param {TurnTransport[]|null} [turnTransports]
 * @returns {RTCIceServer[]}
 */
export function toIceServers(services, turnTransports = null) {
  /** @type {RTCIceServer[]} */
  const out = [];
  for (const s of services) {
    const host = s.host.includes(':') && !s.host.startsWith('[') ? `[${s.host}]` : s.host;
    if (s.type === 'stun') {
      if (!turnTransports) out.push({ urls: `stun:${host}:${s.port}` });
      continue;
    }
    const transport = s.type === 'turns' ? 'tls' : s.transport === 'tcp' ? 'tcp' : 'udp';
    if (turnTransports && !turnTransports.includes(transport)) continue;
    const url = `${s.type}:${host}:${s.port}?transport=${s.type === 'turns' ? 'tcp' : transport}`;
    out.push({ urls: url, username: s.username, credential: s.password });
  }
  return out;
}

/**
 * refreshDelay says when to ask again: a little before the first
 * credentials expire (at 80 % of their life, at least a minute from now),
 * or null when none expires.
 * @param {Service[]} services
 * @param {number} now milliseconds since the epoch
 * @returns {number|null}
 */
export function refreshDelay(services, now) {
  const first = Math.min(...services.map((s) => s.expires ?? Infinity));
  if (!Number.isFinite(first)) return null;
  return Math.max(60_000, Math.floor((first - now) * 0.8));
}

/**
 * apartFromMedia drops the STUN and TURN-over-UDP URLs that share a port
 * with the media server's UDP candidates in sdp (its offer). parley serves
 * TURN on its one media port, and Chromium reads every datagram that
 * comes from a TURN server's address as TURN (its host and relay
 * candidates share one socket): the media server's own ICE replies on
 * that address never reach Chromium's checks, the direct UDP path fails,
 * and the call waits for ICE-TCP or the relay, a second or more. Such a
 * server can never relay where direct UDP to the same port fails anyway;
 * TURN over TCP and TLS stays. A host name (not an address) cannot be
 * compared with the candidates: its URL is dropped when the port matches.
 * @param {RTCIceServer[]} servers
 * @param {string} sdp
 * @returns {RTCIceServer[]}
 */
export function apartFromMedia(servers, sdp) {
  /** @type {Map<number, Set<string>>} the media server's UDP addresses by port */
  const media = new Map();
  for (const line of sdp.split(/\r?\n/)) {
    if (!line.startsWith('a=candidate:')) continue;
    let c;
    try {
      c = candidateFromSDP(line);
    } catch {
      continue; // not ours to judge: the connection itself refuses it
    }
    if (!c || c.protocol !== 'udp') continue;
    if (!media.has(c.port)) media.set(c.port, new Set());
    media.get(c.port)?.add(c.ip.toLowerCase());
  }
  if (media.size === 0) return servers;
  /** @param {string} url */
  const shared = (url) => {
    const m = /^(stuns?|turns?):(\[[^\]]+\]|[^:?]+)(?::(\d+))?(?:\?transport=(\w+))?$/i.exec(url);
    if (!m) return false;
    const scheme = m[1].toLowerCase();
    const udp = scheme === 'stun' || (scheme === 'turn' && (m[4] ?? 'udp').toLowerCase() === 'udp');
    const hosts = media.get(Number(m[3] ?? (scheme.endsWith('s') ? 5349 : 3478)));
    if (!udp || !hosts) return false;
    const host = m[2].replace(/^\[|\]$/g, '').toLowerCase();
    const literal = /^[\d.]+$/.test(host) || host.includes(':');
    return !literal || hosts.has(host);
  };
  /** @type {RTCIceServer[]} */
  const out = [];
  for (const s of servers) {
    const urls = (Array.isArray(s.urls) ? s.urls : [s.urls]).filter((u) => !shared(u));
    if (urls.length > 0) out.push({ ...s, urls: urls.length === 1 ? urls[0] : urls });
  }
  return out;
}
