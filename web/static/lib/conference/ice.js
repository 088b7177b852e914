// @ts-check
/**
 * The call's ICE transport: candidates both ways (held until our answer,
 * batched into transport-info), the connection state, and ICE restarts.
 */
import { x, attr, child, children } from '../xml.js';
import { iq } from '../xmpp.js';
import * as bridge from '../sdpbridge.js';
import { NS } from './contents.js';
import { apartFromMedia } from '../extdisco.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('../conference.js').Conference} Conference */
/** @typedef {import('../conference.js').MediaState} MediaState */

/**
 * releaseCandidates sends the local candidates held until our answer
 * went out, and sends later ones as they come.
 * @param {Conference} conf
 * @param {RTCPeerConnection} pc
 */
export function releaseCandidates(conf, pc) {
  const held = conf.heldCandidates ?? [];
  conf.heldCandidates = null;
  conf.batch.push(...held);
  flushCandidates(conf, pc);
}

/**
 * restartTransport applies an ICE restart (transport-replace) and
 * answers with our new transports in transport-accept. Candidates of the
 * new generation wait for the answer, as at session start.
 * @param {Conference} conf
 * @param {string} sid
 * @param {{sdp: string, next: Map<string, El>}} offer
 */
export async function restartTransport(conf, sid, offer) {
  const pc = conf.pc;
  if (!pc || sid !== conf.sid) return;
  conf.contents = offer.next;
  conf.offerVersion++;
  conf.heldCandidates = [];
  const transportsOnly = (/** @type {El[]} */ answer) => answer.map((c) =>
    x('content', { creator: attr(c, 'creator') ?? 'initiator', name: attr(c, 'name'), senders: attr(c, 'senders') }, children(c, 'transport', NS.ice)));
  if (!await conf.answerOffer(pc, sid, offer.sdp, 'transport-accept', {}, transportsOnly)) return;
  conf.restarts++;
  releaseCandidates(conf, pc);
}

/**
 * restartIce asks the focus for an ICE restart, e.g. when the network
 * changed. Requests closer together than restartMinIntervalMs are
 * dropped: one restart in flight is enough.
 * @param {Conference} conf
 * @param {string} why for the log
 */
export function restartIce(conf, why) {
  const sid = conf.sid;
  const now = performance.now();
  if (!sid || !conf.pc || conf.client.state !== 'online' || now - conf.lastRestartRequest < conf.cfg.restartMinIntervalMs) return;
  conf.lastRestartRequest = now;
  console.info(`parley: asking for an ICE restart (${why})`);
  const j = x('jingle', { xmlns: NS.jingle, action: 'session-info', sid }, [x('ice-restart', { xmlns: NS.focusRoom })]);
  conf.client.request(iq('set', conf.cfg.focus, j)).catch((err) => {
    console.warn('parley: the focus refused an ICE restart', err);
  });
}

/**
 * updateIceServers hands fresh STUN/TURN credentials to the current
 * connection: used by the next ICE restart's gathering.
 * @param {Conference} conf
 * @param {RTCIceServer[]} iceServers
 */
export function updateIceServers(conf, iceServers) {
  const pc = conf.pc;
  if (!pc || typeof pc.setConfiguration !== 'function') return;
  try {
    pc.setConfiguration({ ...pc.getConfiguration(), iceServers: conf.cfg.allIceServers ? iceServers : apartFromMedia(iceServers, conf.mediaSdp) });
  } catch (err) {
    console.warn('parley: could not update the ICE servers', err);
  }
}

/**
 * @param {Conference} conf
 * @param {string} sid
 * @param {El} j
 */
export async function addRemoteCandidates(conf, sid, j) {
  const pc = conf.pc;
  if (!pc || sid !== conf.sid) return;
  for (const c of children(j, 'content', NS.jingle)) {
    const tr = child(c, 'transport', NS.ice);
    if (!tr) continue;
    for (const cand of children(tr, 'candidate', NS.ice)) {
      await pc.addIceCandidate({ candidate: bridge.candidateLine(cand), sdpMid: attr(c, 'name') ?? null });
    }
  }
}

/**
 * @param {Conference} conf
 * @param {RTCPeerConnection} pc
 * @param {RTCIceCandidate|null} cand
 */
export function onLocalCandidate(conf, pc, cand) {
  if (pc !== conf.pc || !cand || !cand.candidate) return;
  if (conf.heldCandidates) {
    conf.heldCandidates.push(cand);
    return;
  }
  conf.batch.push(cand);
  if (conf.batch.length === 1) conf.client.clock.setTimeout(() => flushCandidates(conf, pc), conf.cfg.candidateBatchMs);
}

/**
 * flushCandidates sends the gathered candidates as one transport-info,
 * grouped by m-line.
 * @param {Conference} conf
 * @param {RTCPeerConnection} pc
 */
export function flushCandidates(conf, pc) {
  if (pc !== conf.pc || !conf.sid || conf.batch.length === 0) return;
  const batch = conf.batch.splice(0);
  /** @type {Map<string, El[]>} */
  const byMid = new Map();
  for (const c of batch) {
    const mid = c.sdpMid ?? [...conf.contents.keys()][c.sdpMLineIndex ?? 0];
    if (mid === undefined) continue;
    let el;
    try {
      el = bridge.candidateElement(c.candidate);
    } catch {
      continue; // a candidate Jingle cannot carry (e.g. no foundation)
    }
    if (el) byMid.set(mid, [...(byMid.get(mid) ?? []), el]);
  }
  if (byMid.size === 0) return;
  const ufrag = bridge.localUfrag(pc.localDescription?.sdp ?? '');
  const contents = [...byMid].map(([mid, cands]) => {
    const c = conf.contents.get(mid);
    return x('content', { creator: 'initiator', name: mid, senders: c ? attr(c, 'senders') : undefined }, [
      x('transport', { xmlns: NS.ice, ufrag: ufrag || undefined }, cands),
    ]);
  });
  const j = x('jingle', { xmlns: NS.jingle, action: 'transport-info', sid: conf.sid }, contents);
  conf.client.request(iq('set', conf.cfg.focus, j)).catch(() => {
    // a refused candidate (an mDNS name the SFU cannot resolve) is not fatal
  });
}

/** @param {Conference} conf @param {RTCPeerConnection} pc */
export function onConnectionState(conf, pc) {
  if (pc !== conf.pc || conf.state === 'negotiating') return;
  const s = pc.connectionState ?? pc.iceConnectionState;
  /** @type {Record<string, MediaState>} */
  const map = { new: 'connecting', connecting: 'connecting', checking: 'connecting', connected: 'connected', completed: 'connected', disconnected: 'disconnected', failed: 'failed', closed: 'ended' };
  const next = map[s];
  if (next) conf.setState(next);
  watchForRestart(conf, pc, next);
}

/**
 * watchForRestart asks for an ICE restart when the connection failed, or
 * stayed disconnected for restartAfterMs (a path that came back recovers
 * on its own before that).
 * @param {Conference} conf
 * @param {RTCPeerConnection} pc
 * @param {MediaState|undefined} s
 */
export function watchForRestart(conf, pc, s) {
  if (s === 'failed') {
    restartIce(conf, 'the connection failed');
    return;
  }
  if (s !== 'disconnected') {
    if (conf.restartTimer !== null) conf.client.clock.clearTimeout(conf.restartTimer);
    conf.restartTimer = null;
    return;
  }
  if (conf.restartTimer !== null) return;
  conf.restartTimer = conf.client.clock.setTimeout(() => {
    conf.restartTimer = null;
    if (pc === conf.pc && conf.state === 'disconnected') restartIce(conf, `disconnected for ${conf.cfg.restartAfterMs} ms`);
  }, conf.cfg.restartAfterMs);
}
