// @ts-check
/**
 * What a call sends: our microphone, camera and screen share on the m-lines
 * the focus lets us send on, and their simulcast layers.
 */
import { x } from '../xml.js';
import { iq } from '../xmpp.js';
import { NS, mediaOf, sendsFromUs } from './contents.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('../conference.js').Conference} Conference */

/**
 * @typedef {{active: boolean, scaleResolutionDownBy?: number, maxBitrate?: number, maxFramerate?: number}} LayerSetting
 */

/**
 * layerPlan says how our camera or screen is sent, by rid, for pictures
 * `height` lines tall (0: unknown, planned as 720). libwebrtc (Chromium's
 * and Firefox's engine) encodes only as many simulcast layers as the
 * picture allows: three from 540 lines, two from 270, one below (its
 * table of simulcast formats), and takes the first ones asked for. So the
 * top layer used is the full picture and each one below half the one
 * above (a 640x360 camera: q 320x180, h 640x360), and the rids past the
 * count are turned off rather than left to a browser that would send a
 * duplicate (Firefox does). A screen is sharp and slow: 5 frames a second.
 * A camera sent at a lower quality (SEND_LINES) keeps only the layers of
 * at most that many lines, and always the smallest.
 * @param {'camera'|'screen'} slot
 * @param {string[]} rids the rids of our encodings, smallest first (the focus's offer)
 * @param {number} height
 * @param {number} [maxLines] the camera's tallest layer (SEND_LINES); default no limit
 * @returns {Map<string, LayerSetting>}
 */
export function layerPlan(slot, rids, height, maxLines = Infinity) {
  const h = height > 0 ? height : 720;
  const n = Math.min(rids.length, h >= 540 ? 3 : h >= 270 ? 2 : 1);
  const top = slot === 'camera' ? maxLines : Infinity;
  /** @type {Map<string, LayerSetting>} */
  const plan = new Map();
  rids.forEach((rid, i) => {
    if (i >= n || (i > 0 && h / 2 ** (n - 1 - i) > top)) {
      plan.set(rid, { active: false });
      return;
    }
    const scale = 2 ** (n - 1 - i);
    const lines = h / scale;
    if (slot === 'screen') {
      plan.set(rid, { active: true, scaleResolutionDownBy: scale, maxBitrate: i === n - 1 ? 2_000_000 : 500_000, maxFramerate: 5 });
    } else {
      plan.set(rid, { active: true, scaleResolutionDownBy: scale, maxBitrate: lines <= 200 ? 150_000 : lines <= 400 ? 500_000 : 1_500_000 });
    }
  });
  return plan;
}

/**
 * SEND_LINES is the tallest camera layer each send quality keeps: the
 * user's choice to spare their uplink.
 * @type {Record<'high'|'medium'|'low', number>}
 */
export const SEND_LINES = { high: Infinity, medium: 360, low: 180 };

/**
 * planFor is the layerPlan of a sender's encodings and current track.
 * @param {Conference} conf
 * @param {'camera'|'screen'} slot
 * @param {RTCRtpSender} sender
 * @param {RTCRtpEncodingParameters[]} encodings
 */
function planFor(conf, slot, sender, encodings) {
  const track = sender.track;
  const height = track && typeof track.getSettings === 'function' ? track.getSettings().height ?? 0 : 0;
  return layerPlan(slot, encodings.map((e) => e.rid ?? ''), height, SEND_LINES[conf.sendQuality]);
}

/**
 * refreshLocalTracks puts the current local tracks on the senders, e.g.
 * after the user picked another camera.
 * @param {Conference} conf
 */
export async function refreshLocalTracks(conf) {
  const pc = conf.pc;
  if (!pc) return;
  const slots = publishSlots(conf);
  for (const t of pc.getTransceivers()) {
    const slot = t.mid === null ? undefined : slots.get(t.mid);
    if (!slot) continue;
    const track = localTrackFor(conf, slot);
    if (t.sender.track !== track) await t.sender.replaceTrack(track);
  }
  await tuneEncodings(conf, pc); // another camera may have another size
}

/**
 * setScreen runs shareScreen on the negotiation queue.
 * @param {Conference} conf
 * @param {MediaStreamTrack|null} track
 */
export async function setScreen(conf, track) {
  const prev = conf.screenTrack;
  if (prev === track) return;
  if (prev && conf.onScreenEnded && typeof prev.removeEventListener === 'function') prev.removeEventListener('ended', conf.onScreenEnded);
  conf.screenTrack = track;
  conf.focusRids.screen = null; // a new share is a new publication at the SFU: all its layers until the focus says
  conf.onScreenEnded = null;
  if (track && typeof track.addEventListener === 'function') {
    const onEnded = () => {
      if (conf.screenTrack !== track) return;
      conf.shareScreen(null).catch(() => {}).then(() => conf.emit('screenShareEnded'));
    };
    conf.onScreenEnded = onEnded;
    track.addEventListener('ended', onEnded);
  }
  // Text and detail over motion: the encoder keeps the resolution and
  // drops frames when bandwidth is short.
  if (track && 'contentHint' in track && !track.contentHint) track.contentHint = 'detail';
  const pc = conf.pc;
  const sid = conf.sid;
  if (!pc || !sid) return; // startSession shares it
  const t = screenTransceiver(conf, pc);
  if (!t) throw new Error('conf call has no room for a screen share');
  await t.sender.replaceTrack(track);
  await tuneEncodings(conf, pc); // the screen's size decides its layers
  await announceScreen(conf, sid, track !== null);
}

/**
 * announceScreen tells the focus that our screen share started or
 * stopped (docs/SIGNALLING.md).
 * @param {Conference} conf
 * @param {string} sid
 * @param {boolean} active
 */
export async function announceScreen(conf, sid, active) {
  const j = x('jingle', { xmlns: NS.jingle, action: 'session-info', sid }, [x('screen-share', { xmlns: NS.focusRoom, active: String(active) })]);
  await conf.client.request(iq('set', conf.cfg.focus, j));
}

/**
 * screenTransceiver returns the transceiver of the m-line for our screen.
 * @param {Conference} conf
 * @param {RTCPeerConnection} pc
 */
export function screenTransceiver(conf, pc) {
  for (const [mid, slot] of publishSlots(conf)) {
    if (slot === 'screen') return pc.getTransceivers().find((t) => t.mid === mid) ?? null;
  }
  return null;
}

/**
 * publishSlots maps the m-lines we send on to what we send there: the
 * first audio content the focus lets us send on takes the microphone, the
 * first video one the camera, the second video one a screen share.
 * @param {Conference} conf
 * @returns {Map<string, 'audio'|'camera'|'screen'>} by mid
 */
export function publishSlots(conf) {
  /** @type {Map<string, 'audio'|'camera'|'screen'>} */
  const out = new Map();
  let audios = 0, videos = 0;
  for (const [mid, c] of conf.contents) {
    if (!sendsFromUs(c)) continue;
    const kind = mediaOf(c);
    if (kind === 'audio' && audios++ === 0) out.set(mid, 'audio');
    if (kind === 'video') {
      videos++;
      if (videos <= 2) out.set(mid, videos === 1 ? 'camera' : 'screen');
    }
  }
  return out;
}

/**
 * tuneEncodings gives our camera's and screen's simulcast layers their
 * sizes, bitrates and frame rates for the picture they send (layerPlan),
 * by rid. A browser that refuses keeps its defaults: the call goes on.
 * @param {Conference} conf
 * @param {RTCPeerConnection} pc
 */
export async function tuneEncodings(conf, pc) {
  for (const [mid, slot] of publishSlots(conf)) {
    if (slot === 'audio') continue;
    const t = pc.getTransceivers().find((tr) => tr.mid === mid);
    if (!t || typeof t.sender.getParameters !== 'function') continue;
    const params = t.sender.getParameters();
    const encodings = params.encodings ?? [];
    if (!encodings.some((e) => e.rid)) continue; // no simulcast
    const plan = planFor(conf, slot, t.sender, encodings);
    let changed = false;
    for (const e of encodings) {
      const w = plan.get(e.rid ?? '');
      if (!w) continue;
      // The focus's last send-layers still holds: a layer it paused stays
      // paused until it asks for it again.
      for (const [k, v] of Object.entries({ ...w, active: layerOn(conf, slot, e.rid, w) })) {
        if (/** @type {any} */ (e)[k] !== v) {
          /** @type {any} */ (e)[k] = v;
          changed = true;
        }
      }
    }
    if (!changed) continue;
    await t.sender.setParameters(params).catch((/** @type {unknown} */ err) => console.warn(`parley: could not tune the ${slot} layers`, err));
  }
}

/**
 * sendLayers turns our camera's or screen's simulcast layers on and off,
 * as the focus says: it sends only the layers someone receives, and never
 * one its picture is too small for (layerPlan).
 * @param {Conference} conf
 * @param {'camera'|'screen'} source
 * @param {string[]} rids the layers to send
 */
export async function sendLayers(conf, source, rids) {
  conf.focusRids[source] = rids;
  const pc = conf.pc;
  if (!pc) return;
  for (const [mid, slot] of publishSlots(conf)) {
    if (slot !== source) continue;
    const t = pc.getTransceivers().find((tr) => tr.mid === mid);
    if (!t || typeof t.sender.getParameters !== 'function') return;
    const params = t.sender.getParameters();
    const plan = planFor(conf, slot, t.sender, params.encodings ?? []);
    let changed = false;
    for (const e of params.encodings ?? []) {
      const on = layerOn(conf, slot, e.rid, plan.get(e.rid ?? ''));
      if (e.active !== on) {
        e.active = on;
        changed = true;
      }
    }
    if (changed) await t.sender.setParameters(params).catch((/** @type {unknown} */ err) => console.warn(`parley: could not pause ${source} layers`, err));
  }
}

/**
 * layerOn says whether a layer is sent: the picture and the send quality
 * allow it (its layerPlan setting) and the focus's last send-layers for
 * the source, if any, names it. An encoding without a rid is always on.
 * @param {Conference} conf
 * @param {'camera'|'screen'} slot
 * @param {string|undefined} rid
 * @param {LayerSetting|undefined} planned
 */
function layerOn(conf, slot, rid, planned) {
  if (!rid) return true;
  const focus = conf.focusRids[slot];
  return planned?.active !== false && (focus === null || focus.includes(rid));
}

/**
 * localTrackFor returns what we send on a slot now.
 * @param {Conference} conf
 * @param {'audio'|'camera'|'screen'} slot
 */
export function localTrackFor(conf, slot) {
  if (slot === 'screen') return conf.screenTrack;
  const tracks = conf.cfg.localTracks();
  return slot === 'audio' ? tracks.audio : tracks.video;
}
