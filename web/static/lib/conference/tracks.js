// @ts-check
/**
 * What a call receives: the remote tracks mapped to room occupants, what we
 * ask of their videos (quality, sizes, lastN, pins), and the focus's
 * dominant-speaker messages.
 */
import { x, attr, ns, children } from '../xml.js';
import { iq } from '../xmpp.js';
import { NS, mediaOf, sendsToUs, ownerOf, bare } from './contents.js';

/** @typedef {import('../xml.js').El} El */
/** @typedef {import('../conference.js').Conference} Conference */

/**
 * @typedef {object} RemoteTrack
 * @property {string} nick the publishing occupant's nick ('' when unknown)
 * @property {string} owner the occupant JID from ssrc-info, or ''
 * @property {'audio'|'video'} kind
 * @property {'audio'|'camera'|'screen'} source what it carries: a screen share is a
 *   second video of its owner, beside the camera
 * @property {string} mid the m-line carrying it
 * @property {string} streamId the msid stream id (opaque)
 * @property {string} trackId the msid track id: what setReceiveVideo names
 * @property {MediaStreamTrack} track
 * @property {RTCRtpReceiver} receiver
 */

/**
 * @typedef {object} ReceiveVideo what we ask of the videos we receive
 * @property {'high'|'medium'|'low'} quality caps every video: the user's setting
 * @property {Record<string, number>} heights by RemoteTrack.trackId, the height in device
 *   pixels of the largest tile showing it; 0 for a video shown nowhere (it is paused)
 * @property {number} [lastN] receive the camera of only this many most recent speakers
 *   (0: as the server is set up)
 * @property {string[]} [pinned] the RemoteTrack.streamId of people whose camera we
 *   always receive
 */

/** How long setReceiveVideo waits for more changes before telling the focus. */
const RECEIVE_VIDEO_DELAY_MS = 300;

/**
 * setReceiveVideo tells the focus what we show: our quality setting and
 * the tile heights (docs/SIGNALLING.md). The SFU then forwards each video
 * in the layer that fills its tile, within our bandwidth; a video with
 * height 0 is paused. Changes within a short while are sent as one.
 * @param {Conference} conf
 * @param {Partial<ReceiveVideo>} want
 */
export function setReceiveVideo(conf, want) {
  const cur = conf.receiveVideo;
  conf.receiveVideo = {
    quality: want.quality ?? cur.quality, heights: { ...(want.heights ?? cur.heights) },
    lastN: want.lastN ?? cur.lastN ?? 0, pinned: [...(want.pinned ?? cur.pinned ?? [])],
  };
  if (conf.receiveVideoTimer !== null) return;
  conf.receiveVideoTimer = conf.client.clock.setTimeout(() => {
    conf.receiveVideoTimer = null;
    sendReceiveVideo(conf, false);
  }, RECEIVE_VIDEO_DELAY_MS);
}

/**
 * sendReceiveVideo sends the receive-video request if it changed (or
 * always, for a new session).
 * @param {Conference} conf
 * @param {boolean} always
 */
export function sendReceiveVideo(conf, always) {
  const sid = conf.sid;
  const rv = conf.receiveVideo;
  const key = JSON.stringify(rv);
  if (!sid || conf.client.state !== 'online' || (!always && key === conf.receiveVideoSent)) return;
  if (always && rv.quality === 'high' && Object.keys(rv.heights).length === 0 && !rv.lastN && !rv.pinned?.length) return; // the default: nothing to say
  conf.receiveVideoSent = key;
  const videos = Object.entries(rv.heights).map(([track, h]) => x('video', { track, height: String(Math.max(0, Math.round(h))) }));
  const pins = (rv.pinned ?? []).map((stream) => x('pin', { stream }));
  const attrs = { xmlns: NS.focusRoom, quality: rv.quality, 'last-n': rv.lastN ? String(rv.lastN) : undefined };
  const j = x('jingle', { xmlns: NS.jingle, action: 'session-info', sid }, [x('receive-video', attrs, [...videos, ...pins])]);
  conf.client.request(iq('set', conf.cfg.focus, j)).catch((err) => console.warn('parley: the focus refused our video request', err));
}

/**
 * updateRemoteTracks compares the m-lines we receive on with what we
 * announced, announcing removed tracks first.
 * @param {Conference} conf
 * @param {RTCPeerConnection} pc
 */
export function updateRemoteTracks(conf, pc) {
  /** @type {Map<string, RemoteTrack>} */
  const now = new Map();
  for (const t of pc.getTransceivers()) {
    const c = t.mid === null ? undefined : conf.contents.get(t.mid);
    if (!c || t.mid === null || !sendsToUs(c)) continue;
    const kind = mediaOf(c);
    if (kind !== 'audio' && kind !== 'video') continue;
    const who = ownerOf(c);
    // A track of someone who left stays offered until the focus's next
    // content-add withdraws it; do not bring it back meanwhile.
    if (who.nick && conf.room.state === 'in' && !conf.room.occupants.has(who.nick)) continue;
    const source = kind === 'audio' ? 'audio' : who.trackId.startsWith('screen-') ? 'screen' : 'camera';
    now.set(t.mid, { nick: who.nick, owner: who.owner, streamId: who.streamId, trackId: who.trackId, kind, source, mid: t.mid, track: t.receiver.track, receiver: t.receiver });
  }
  for (const [mid, old] of conf.remote) {
    const cur = now.get(mid);
    if (!cur || cur.streamId !== old.streamId || cur.nick !== old.nick || cur.track !== old.track || cur.source !== old.source) {
      conf.remote.delete(mid);
      conf.emit('trackRemoved', old);
    }
  }
  for (const [mid, cur] of now) {
    if (conf.remote.has(mid)) continue;
    conf.remote.set(mid, cur);
    conf.emit('trackAdded', cur);
  }
}

/**
 * dropTracksOf forgets the tracks of someone who left the room; the focus
 * will withdraw their m-lines in its next content-add.
 * @param {Conference} conf
 * @param {string} nick
 */
export function dropTracksOf(conf, nick) {
  for (const [mid, t] of conf.remote) {
    if (t.nick === nick) {
      conf.remote.delete(mid);
      conf.emit('trackRemoved', t);
    }
  }
}

/**
 * onFocusMessage reads the focus's headline messages: the room's
 * dominant speaker (docs/SIGNALLING.md).
 * @param {Conference} conf
 * @param {El} st
 */
export function onFocusMessage(conf, st) {
  if (bare(attr(st, 'from') ?? '') !== conf.cfg.focus.toLowerCase()) return;
  const ds = children(st, 'dominant-speaker').find((k) => ns(k) === NS.focusRoom);
  const occupant = ds ? attr(ds, 'occupant') ?? '' : '';
  const slash = occupant.indexOf('/');
  if (slash < 0 || bare(occupant) !== bare(conf.room.jid)) return;
  conf.dominantSpeaker = occupant.slice(slash + 1);
  conf.emit('dominantSpeaker', conf.dominantSpeaker);
}
