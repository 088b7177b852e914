// @ts-check
/**
 * What the call view measures while the call runs: who is speaking (audio
 * levels, until the server sends dominant-speaker events), each remote
 * participant's connection quality from getStats (graded by loss and
 * round-trip time, with the bitrate we receive), and the statistics
 * history of the debug file.
 */
import { browserName } from '../lib/debuginfo.js';
import { h } from './dom.js';

/** Above this level (0..1) someone is speaking. */
const SPEAKING_LEVEL = 0.04;
/** A member stays "speaking" this long after the level falls. */
const SPEAKING_HOLD_MS = 800;

/**
 * quality grades a connection from its packet loss (0..1) and round-trip
 * time (seconds, or null when unknown).
 * @param {number} loss
 * @param {number|null} rtt
 * @returns {'good'|'fair'|'poor'}
 */
export function quality(loss, rtt) {
  if (loss > 0.1 || (rtt !== null && rtt > 0.5)) return 'poor';
  if (loss > 0.03 || (rtt !== null && rtt > 0.25)) return 'fair';
  return 'good';
}

/**
 * @typedef {object} View
 * @property {import('./callstate.js').CallState} state
 * @property {{pc: RTCPeerConnection|null}} hook
 * @property {import('../lib/debuginfo.js').DebugRecorder} recorder
 * @property {{level: () => number}|null} selfMeter
 * @property {() => void} render
 */

export class Monitor {
  /** @param {View} view */
  constructor(view) {
    this.view = view; // immutable
    this.timers = /** @type {number[]} */ ([]);
    /** @type {Map<string, {lost: number, received: number, bytes: number, at: number}>} the last counters by inbound-rtp id */
    this.last = new Map();
    /** @type {Map<string, number>} when each member was last loud */
    this.loudAt = new Map();
  }

  start() {
    this.timers.push(window.setInterval(() => this.levels(), 250));
    this.timers.push(window.setInterval(() => this.stats().catch(() => {}), 2000));
  }

  stop() {
    for (const id of this.timers) clearInterval(id);
    this.timers = [];
  }

  /** levels updates who is speaking from the receivers' audio levels and our own meter. */
  levels() {
    const now = Date.now();
    let changed = false;
    for (const m of this.view.state.members.values()) {
      let level = 0;
      if (m.self) level = m.state.audio === 'on' ? this.view.selfMeter?.level() ?? 0 : 0;
      else {
        const receivers = /** @type {any} */ (window).parley?.participants.get(m.nick)?.receivers ?? [];
        for (const r of receivers) {
          if (r.track?.kind !== 'audio') continue;
          for (const src of r.getSynchronizationSources?.() ?? []) level = Math.max(level, src.audioLevel ?? 0);
        }
      }
      if (level > SPEAKING_LEVEL) {
        this.loudAt.set(m.nick, now);
        m.lastSpoke = now;
      }
      const speaking = now - (this.loudAt.get(m.nick) ?? 0) < SPEAKING_HOLD_MS;
      if (speaking !== m.speaking) {
        m.speaking = speaking;
        changed = true;
      }
    }
    if (changed) this.view.render();
  }

  /** stats reads getStats once: the debug history, and each member's quality. */
  async stats() {
    const pc = this.view.hook.pc;
    if (!pc) return;
    const report = await pc.getStats();
    const all = [...report.values()];
    this.view.recorder.addStats(all);
    const pair = all.find((s) => s.type === 'candidate-pair' && (s.selected || s.nominated) && s.state === 'succeeded');
    const rtt = typeof pair?.currentRoundTripTime === 'number' ? pair.currentRoundTripTime : null;
    let changed = false;
    for (const m of this.view.state.members.values()) {
      if (m.self) continue;
      const ids = new Set(m.videos.map((v) => v.track.id));
      for (const tr of /** @type {any} */ (window).parley?.participants.get(m.nick)?.tracks ?? []) ids.add(tr.id);
      let lost = 0;
      let received = 0;
      let bits = 0;
      for (const s of all) {
        if (s.type !== 'inbound-rtp' || !ids.has(s.trackIdentifier)) continue;
        const prev = this.last.get(s.id);
        const now = { lost: s.packetsLost ?? 0, received: s.packetsReceived ?? 0, bytes: s.bytesReceived ?? 0, at: s.timestamp ?? 0 };
        this.last.set(s.id, now);
        if (!prev) continue; // a first reading: rates need two
        lost += Math.max(0, now.lost - prev.lost);
        received += Math.max(0, now.received - prev.received);
        if (now.at > prev.at) bits += (8 * Math.max(0, now.bytes - prev.bytes)) / ((now.at - prev.at) / 1000);
      }
      if (received + lost === 0) continue;
      const q = quality(lost / (received + lost), rtt);
      const kbps = Math.round(bits / 1000);
      if (q !== m.quality || kbps !== m.kbps) {
        m.quality = q;
        m.kbps = kbps;
        changed = true;
      }
    }
    if (changed) this.view.render();
  }
}

/**
 * selectedCandidates describes the ICE candidates media uses.
 * @param {RTCPeerConnection|null} pc
 */
async function selectedCandidates(pc) {
  if (!pc) return null;
  const stats = await pc.getStats();
  const all = [...stats.values()];
  const ids = all.filter((s) => s.type === 'transport' && s.selectedCandidatePairId).map((s) => s.selectedCandidatePairId);
  const pairs = all.filter((s) => s.type === 'candidate-pair');
  const pair = pairs.find((s) => ids.includes(s.id)) ?? pairs.find((s) => s.selected) ?? pairs.find((s) => s.nominated && s.state === 'succeeded');
  if (!pair) return null;
  const pick = (/** @type {any} */ c) => c && { type: c.candidateType, protocol: c.protocol, relayProtocol: c.relayProtocol, address: c.address ?? c.ip, port: c.port };
  return { pair: { state: pair.state, rtt: pair.currentRoundTripTime }, local: pick(stats.get(pair.localCandidateId)), remote: pick(stats.get(pair.remoteCandidateId)) };
}

/**
 * downloadDebug saves the debug file.
 * @param {{recorder: import('../lib/debuginfo.js').DebugRecorder, hook: {pc: RTCPeerConnection|null}, opts: {room: string}, call: {status: unknown}}} view
 */
export async function downloadDebug(view) {
  const pc = view.hook.pc;
  if (pc) view.recorder.addStats((await pc.getStats()).values());
  const data = view.recorder.build({
    userAgent: navigator.userAgent,
    browser: browserName(navigator.userAgent),
    room: view.opts.room,
    candidates: await selectedCandidates(pc).catch(() => null),
    status: view.call.status,
  });
  const blob = new Blob([JSON.stringify(data, null, 1)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const a = h('a', { href: url, download: `parley-debug-${view.opts.room}-${stamp}.json`, hidden: '' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
