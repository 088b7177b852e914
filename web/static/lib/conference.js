// @ts-check
/**
 * The media side of a call: the Jingle session with the focus
 * (docs/SIGNALLING.md) driving one Unified Plan RTCPeerConnection.
 *
 * The focus is always the offerer. session-initiate becomes the remote
 * offer; our answer goes back as session-accept, our ICE candidates as
 * transport-info. content-add upserts contents by name into the offer we
 * hold; we renegotiate and send every content of the new answer in
 * content-accept. Remote tracks are mapped to room occupants through the
 * ssrc-info owner of the source offered on their m-line.
 *
 * What we send: the focus's first contents that we send on are, in order,
 * our audio, our camera and our screen share (docs/SIGNALLING.md). A screen
 * share goes on its own m-line, beside the camera; shareScreen puts a track
 * there and tells the focus (session-info <screen-share/>). A received
 * track's source (audio, camera or screen) is in its msid track id prefix.
 *
 * ICE restarts: when our connection stays disconnected for a while, fails,
 * or the network changes, we ask the focus with session-info <ice-restart/>;
 * the focus (or the SFU on its own) sends transport-replace with new ICE
 * credentials, and we answer transport-accept with ours. The session, its
 * tracks and the DTLS association stay.
 *
 * No DOM access besides the WebRTC objects.
 */
import { Emitter } from './emitter.js';
import { StanzaError, iq } from './xmpp.js';
import { x, attr, ns, local, kid, kids } from './xmlutil.js';
import * as bridge from './sdpbridge.js';

/** @typedef {import('./xmlutil.js').El} El */
/** @typedef {import('./xmpp.js').XmppClient} XmppClient */
/** @typedef {import('./muc.js').Room} Room */

export const NS = Object.freeze({
  jingle: 'urn:xmpp:jingle:1',
  jingleErrors: 'urn:xmpp:jingle:errors:1',
  rtp: 'urn:xmpp:jingle:apps:rtp:1',
  ssma: 'urn:xmpp:jingle:apps:rtp:ssma:0',
  grouping: 'urn:xmpp:jingle:apps:grouping:0',
  ice: 'urn:xmpp:jingle:transports:ice-udp:1',
  jitmeet: 'http://jitsi.org/jitmeet',
  focusRoom: 'urn:parley:focus:0',
});

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
 * @typedef {'idle'|'negotiating'|'connecting'|'connected'|'disconnected'|'failed'|'ended'} MediaState
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

/**
 * How our own video is sent, by source: the simulcast layers the focus asks
 * for, by rid, smallest first. A camera sends up to three; a screen two,
 * sharp and slow.
 * @type {Record<'camera'|'screen', Record<string, {scaleResolutionDownBy: number, maxBitrate: number, maxFramerate?: number}>>}
 */
const ENCODINGS = {
  camera: {
    q: { scaleResolutionDownBy: 4, maxBitrate: 100_000 },
    h: { scaleResolutionDownBy: 2, maxBitrate: 300_000 },
    f: { scaleResolutionDownBy: 1, maxBitrate: 1_200_000 },
  },
  screen: {
    h: { scaleResolutionDownBy: 2, maxBitrate: 500_000, maxFramerate: 5 },
    f: { scaleResolutionDownBy: 1, maxBitrate: 2_000_000, maxFramerate: 5 },
  },
};

/** How long setReceiveVideo waits for more changes before telling the focus. */
const RECEIVE_VIDEO_DELAY_MS = 300;

/**
 * @typedef {object} Events
 * @property {[t: RemoteTrack]} trackAdded
 * @property {[t: RemoteTrack]} trackRemoved
 * @property {[nick: string, displayName: string]} participantJoined
 * @property {[nick: string, reason: string]} participantLeft
 * @property {[state: MediaState]} state the media connection state
 * @property {[pc: RTCPeerConnection|null]} peerConnection a new one was made, or the old one closed
 * @property {[reason: string]} sessionEnded the focus or we ended the session
 * @property {[nick: string]} dominantSpeaker the focus named the room's dominant
 *   speaker (our own nick included)
 * @property {[]} screenShareEnded our shared screen's track ended (the browser's own
 *   "stop sharing"); the share is already withdrawn
 * @property {[err: Error]} error a negotiation failed
 */

/**
 * @typedef {object} Config
 * @property {XmppClient} client Required.
 * @property {Room} room the joined room. Required.
 * @property {string} focus the focus's JID, e.g. focus.example.test. Required.
 * @property {() => {audio: MediaStreamTrack|null, video: MediaStreamTrack|null}} localTracks
 *   the tracks to send; called at each negotiation. Required.
 * @property {RTCConfiguration} [rtcConfig] default {} (the SFU gives candidates)
 * @property {typeof RTCPeerConnection} [RTCPeerConnection] default the global one
 * @property {number} [candidateBatchMs] gather local candidates this long into one
 *   transport-info; default 20
 * @property {() => (RTCIceServer[]|Promise<RTCIceServer[]>)} [iceServers] the STUN/TURN
 *   servers for a new connection; default none
 * @property {number} [restartAfterMs] how long ICE may stay disconnected before we
 *   ask for a restart; default 4000
 * @property {number} [restartMinIntervalMs] the least time between two restart
 *   requests; default 5000
 */

/** Conference is our Jingle session with the focus. @extends {Emitter<Events>} */
export class Conference extends Emitter {
  /** @param {Config} cfg */
  constructor(cfg) {
    super();
    /** @type {Required<Config>} immutable */
    this.cfg = {
      rtcConfig: {}, RTCPeerConnection: globalThis.RTCPeerConnection, candidateBatchMs: 20,
      iceServers: () => [], restartAfterMs: 4000, restartMinIntervalMs: 5000, ...cfg,
    };
    this.client = cfg.client;
    this.room = cfg.room;
    /** @type {RTCPeerConnection|null} owned by the negotiation queue */
    this.pc = null;
    /** @type {string|null} the current session id */
    this.sid = null;
    /** @type {Map<string, El>} the offer's contents by name, in m-line order */
    this.contents = new Map();
    this.offerVersion = 0;
    /** @type {Map<string, RemoteTrack>} remote tracks by mid */
    this.remote = new Map();
    /** @type {Promise<void>} serializes negotiations */
    this.queue = Promise.resolve();
    /** @type {RTCIceCandidate[]|null} candidates waiting for session-accept's answer; null once sent */
    this.heldCandidates = [];
    /** @type {RTCIceCandidate[]} candidates gathered for the next transport-info */
    this.batch = [];
    /** @type {MediaState} */
    this.state = 'idle';
    this.ended = false;
    /** @type {any} the timer that asks for a restart after a long disconnection */
    this.restartTimer = null;
    this.lastRestartRequest = -Infinity; // performance.now() of our last request
    this.restarts = 0; // transport-replace offers applied, for tests and diagnostics
    /** @type {MediaStreamTrack|null} the screen we share, if any; owned by the negotiation queue */
    this.screenTrack = null;
    /** @type {(() => void)|null} listens for the end of screenTrack */
    this.onScreenEnded = null;
    /** @type {string} the nick of the dominant speaker the focus last named; '' before */
    this.dominantSpeaker = '';
    /** @type {ReceiveVideo} what we last asked of the videos we receive */
    this.receiveVideo = { quality: 'high', heights: {} };
    this.receiveVideoSent = ''; // the request last sent, serialized
    /** @type {any} the timer that sends a changed request */
    this.receiveVideoTimer = null;

    this.client.handleIq(NS.jingle, 'jingle', (st) => this.onJingle(st));
    this.offs = [
      this.room.on('joined', (o) => {
        if (o.self) return;
        this.emit('participantJoined', o.nick, o.displayName);
        if (this.pc) this.updateRemoteTracks(this.pc); // tracks offered before the presence came
      }),
      this.room.on('left', (o, why) => {
        if (o.self) return;
        this.dropTracksOf(o.nick);
        this.emit('participantLeft', o.nick, why.kind);
      }),
      this.room.on('changed', (o) => {
        if (!o.self) this.emit('participantJoined', o.nick, o.displayName);
      }),
      this.client.on('offline', () => this.closeSession('connection lost')),
      this.client.on('message', (st) => this.onFocusMessage(st)),
    ];
  }

  /**
   * hangUp ends the session with the focus (session-terminate) and closes
   * the connection. Leaving the room is the caller's business.
   */
  async hangUp() {
    this.ended = true;
    const sid = this.sid;
    this.closeSession('hung up');
    if (sid && this.client.state === 'online') {
      const j = x('jingle', { xmlns: NS.jingle, action: 'session-terminate', sid }, [x('reason', {}, [x('success')])]);
      await this.client.request(iq('set', this.cfg.focus, j), 3000).catch(() => {});
    }
    for (const off of this.offs) off();
  }

  /**
   * refreshLocalTracks puts the current local tracks on the senders, e.g.
   * after the user picked another camera.
   */
  async refreshLocalTracks() {
    const pc = this.pc;
    if (!pc) return;
    const slots = this.publishSlots();
    for (const t of pc.getTransceivers()) {
      const slot = t.mid === null ? undefined : slots.get(t.mid);
      if (!slot) continue;
      const track = this.localTrackFor(slot);
      if (t.sender.track !== track) await t.sender.replaceTrack(track);
    }
  }

  /**
   * shareScreen sends track (a getDisplayMedia video) as a second video
   * beside the camera, on the m-line the focus keeps for it, and tells the
   * focus, which then forwards it to the others as our "screen" track. null
   * stops the share. When the track ends (the browser's own "stop sharing"
   * bar) the share stops by itself and screenShareEnded is emitted. Without
   * a session yet, the track is kept and shared once the focus calls.
   * Rejects when the session has no m-line for a screen or the focus
   * refuses.
   * @param {MediaStreamTrack|null} track
   * @returns {Promise<void>}
   */
  shareScreen(track) {
    const done = this.queue.then(() => this.setScreen(track));
    this.queue = done.catch(() => {});
    return done;
  }

  /**
   * setScreen runs shareScreen on the negotiation queue.
   * @param {MediaStreamTrack|null} track
   */
  async setScreen(track) {
    const prev = this.screenTrack;
    if (prev === track) return;
    if (prev && this.onScreenEnded && typeof prev.removeEventListener === 'function') prev.removeEventListener('ended', this.onScreenEnded);
    this.screenTrack = track;
    this.onScreenEnded = null;
    if (track && typeof track.addEventListener === 'function') {
      const onEnded = () => {
        if (this.screenTrack !== track) return;
        this.shareScreen(null).catch(() => {}).then(() => this.emit('screenShareEnded'));
      };
      this.onScreenEnded = onEnded;
      track.addEventListener('ended', onEnded);
    }
    // Text and detail over motion: the encoder keeps the resolution and
    // drops frames when bandwidth is short.
    if (track && 'contentHint' in track && !track.contentHint) track.contentHint = 'detail';
    const pc = this.pc;
    const sid = this.sid;
    if (!pc || !sid) return; // startSession shares it
    const t = this.screenTransceiver(pc);
    if (!t) throw new Error('this call has no room for a screen share');
    await t.sender.replaceTrack(track);
    await this.announceScreen(sid, track !== null);
  }

  /**
   * announceScreen tells the focus that our screen share started or
   * stopped (docs/SIGNALLING.md).
   * @param {string} sid
   * @param {boolean} active
   */
  async announceScreen(sid, active) {
    const j = x('jingle', { xmlns: NS.jingle, action: 'session-info', sid }, [x('screen-share', { xmlns: NS.focusRoom, active: String(active) })]);
    await this.client.request(iq('set', this.cfg.focus, j));
  }

  /**
   * screenTransceiver returns the transceiver of the m-line for our screen.
   * @param {RTCPeerConnection} pc
   */
  screenTransceiver(pc) {
    for (const [mid, slot] of this.publishSlots()) {
      if (slot === 'screen') return pc.getTransceivers().find((t) => t.mid === mid) ?? null;
    }
    return null;
  }

  /**
   * publishSlots maps the m-lines we send on to what we send there: the
   * first audio content the focus lets us send on takes the microphone, the
   * first video one the camera, the second video one a screen share.
   * @returns {Map<string, 'audio'|'camera'|'screen'>} by mid
   */
  publishSlots() {
    /** @type {Map<string, 'audio'|'camera'|'screen'>} */
    const out = new Map();
    let audios = 0, videos = 0;
    for (const [mid, c] of this.contents) {
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
   * sizes, bitrates and frame rates (ENCODINGS), by rid. A browser that
   * refuses keeps its defaults: the call goes on.
   * @param {RTCPeerConnection} pc
   */
  async tuneEncodings(pc) {
    for (const [mid, slot] of this.publishSlots()) {
      if (slot === 'audio') continue;
      const t = pc.getTransceivers().find((tr) => tr.mid === mid);
      if (!t || typeof t.sender.getParameters !== 'function') continue;
      const params = t.sender.getParameters();
      const want = ENCODINGS[slot];
      let changed = false;
      for (const e of params.encodings ?? []) {
        const w = e.rid ? want[e.rid] : undefined;
        if (!w) continue;
        for (const [k, v] of Object.entries(w)) {
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
   * as the focus says: it sends only the layers someone receives.
   * @param {'camera'|'screen'} source
   * @param {string[]} rids the layers to send
   */
  async sendLayers(source, rids) {
    const pc = this.pc;
    if (!pc) return;
    for (const [mid, slot] of this.publishSlots()) {
      if (slot !== source) continue;
      const t = pc.getTransceivers().find((tr) => tr.mid === mid);
      if (!t || typeof t.sender.getParameters !== 'function') return;
      const params = t.sender.getParameters();
      let changed = false;
      for (const e of params.encodings ?? []) {
        const on = !e.rid || rids.includes(e.rid);
        if (e.active !== on) {
          e.active = on;
          changed = true;
        }
      }
      if (changed) await t.sender.setParameters(params).catch((/** @type {unknown} */ err) => console.warn(`parley: could not pause ${source} layers`, err));
    }
  }

  /**
   * setReceiveVideo tells the focus what we show: our quality setting and
   * the tile heights (docs/SIGNALLING.md). The SFU then forwards each video
   * in the layer that fills its tile, within our bandwidth; a video with
   * height 0 is paused. Changes within a short while are sent as one.
   * @param {Partial<ReceiveVideo>} want
   */
  setReceiveVideo(want) {
    const cur = this.receiveVideo;
    this.receiveVideo = {
      quality: want.quality ?? cur.quality, heights: { ...(want.heights ?? cur.heights) },
      lastN: want.lastN ?? cur.lastN ?? 0, pinned: [...(want.pinned ?? cur.pinned ?? [])],
    };
    if (this.receiveVideoTimer !== null) return;
    this.receiveVideoTimer = this.client.clock.setTimeout(() => {
      this.receiveVideoTimer = null;
      this.sendReceiveVideo(false);
    }, RECEIVE_VIDEO_DELAY_MS);
  }

  /**
   * sendReceiveVideo sends the receive-video request if it changed (or
   * always, for a new session).
   * @param {boolean} always
   */
  sendReceiveVideo(always) {
    const sid = this.sid;
    const rv = this.receiveVideo;
    const key = JSON.stringify(rv);
    if (!sid || this.client.state !== 'online' || (!always && key === this.receiveVideoSent)) return;
    if (always && rv.quality === 'high' && Object.keys(rv.heights).length === 0 && !rv.lastN && !rv.pinned?.length) return; // the default: nothing to say
    this.receiveVideoSent = key;
    const videos = Object.entries(rv.heights).map(([track, h]) => x('video', { track, height: String(Math.max(0, Math.round(h))) }));
    const pins = (rv.pinned ?? []).map((stream) => x('pin', { stream }));
    const attrs = { xmlns: NS.focusRoom, quality: rv.quality, 'last-n': rv.lastN ? String(rv.lastN) : undefined };
    const j = x('jingle', { xmlns: NS.jingle, action: 'session-info', sid }, [x('receive-video', attrs, [...videos, ...pins])]);
    this.client.request(iq('set', this.cfg.focus, j)).catch((err) => console.warn('parley: the focus refused our video request', err));
  }

  /**
   * localTrackFor returns what we send on a slot now.
   * @param {'audio'|'camera'|'screen'} slot
   */
  localTrackFor(slot) {
    if (slot === 'screen') return this.screenTrack;
    const tracks = this.cfg.localTracks();
    return slot === 'audio' ? tracks.audio : tracks.video;
  }

  /**
   * onFocusMessage reads the focus's headline messages: the room's
   * dominant speaker (docs/SIGNALLING.md).
   * @param {El} st
   */
  onFocusMessage(st) {
    if (bare(attr(st, 'from') ?? '') !== this.cfg.focus.toLowerCase()) return;
    const ds = kids(st, 'dominant-speaker').find((k) => ns(k) === NS.focusRoom);
    const occupant = ds ? attr(ds, 'occupant') ?? '' : '';
    const slash = occupant.indexOf('/');
    if (slash < 0 || bare(occupant) !== bare(this.room.jid)) return;
    this.dominantSpeaker = occupant.slice(slash + 1);
    this.emit('dominantSpeaker', this.dominantSpeaker);
  }

  // --- Jingle requests ---------------------------------------------------

  /**
   * onJingle answers a Jingle IQ at once and queues the media work: the
   * IQ result must precede our session-accept (XEP-0166 §6.2).
   * @param {El} st
   * @returns {null}
   */
  onJingle(st) {
    const j = kid(st, 'jingle', NS.jingle);
    if (!j) throw new StanzaError('bad-request', 'modify');
    if (bare(attr(st, 'from') ?? '') !== this.cfg.focus) throw new StanzaError('not-authorized', 'auth', 'only the focus may call');
    const action = attr(j, 'action') ?? '';
    const sid = attr(j, 'sid') ?? '';
    if (action === 'session-initiate') {
      if (this.ended) throw jingleError('not-acceptable', '', 'we are leaving');
      const contents = kids(j, 'content', NS.jingle);
      const sdp = this.offerSdp(contents, true); // throws bad-request when unusable
      this.run(() => this.startSession(sid, contents, sdp));
      return null;
    }
    if (sid !== this.sid) throw jingleError('item-not-found', 'unknown-session');
    switch (action) {
      case 'content-add':
      case 'content-modify': {
        const contents = kids(j, 'content', NS.jingle);
        const sdp = this.offerSdp(contents, false);
        this.run(() => this.renegotiate(sid, contents, sdp));
        return null;
      }
      case 'transport-info':
        this.run(() => this.addRemoteCandidates(sid, j));
        return null;
      case 'transport-replace': {
        const offer = this.replaceTransports(kids(j, 'content', NS.jingle));
        this.run(() => this.restartTransport(sid, offer));
        return null;
      }
      case 'session-terminate': {
        const reason = kid(j, 'reason', NS.jingle);
        const cond = reason ? kids(reason).find((c) => local(c) !== 'text') : undefined;
        this.closeSession(cond ? local(cond) : 'ended by the focus');
        return null;
      }
      case 'session-info': {
        const layers = kids(j, 'send-layers').find((k) => ns(k) === NS.focusRoom);
        if (layers) {
          const source = attr(layers, 'source') === 'screen' ? 'screen' : 'camera';
          const rids = (attr(layers, 'rids') ?? '').split(',').filter((r) => r !== '');
          this.run(() => this.sendLayers(source, rids));
        }
        return null;
      }
      case 'description-info':
        return null;
      default:
        throw jingleError('feature-not-implemented', 'unsupported-info', `action ${action}`);
    }
  }

  /**
   * offerSdp upserts contents into a copy of the offer and translates it.
   * It changes nothing when the translation fails.
   * @param {El[]} incoming
   * @param {boolean} fresh start from an empty offer (session-initiate)
   */
  offerSdp(incoming, fresh) {
    const next = new Map(fresh ? [] : this.contents);
    for (const c of incoming) {
      const name = attr(c, 'name');
      if (!name) throw jingleError('bad-request', '', 'a content has no name');
      next.set(name, c);
    }
    let sdp;
    try {
      sdp = bridge.offerToSdp([...next.values()], fresh ? 1 : this.offerVersion + 1);
    } catch (err) {
      const cond = err instanceof bridge.JingleError ? err.condition : 'bad-request';
      throw jingleError(cond, '', err instanceof Error ? err.message : String(err));
    }
    return { sdp, next };
  }

  /**
   * replaceTransports puts the new ICE transports of a transport-replace
   * into a copy of the offer and translates it. It changes nothing when a
   * content is unknown or has no transport.
   * @param {El[]} incoming
   */
  replaceTransports(incoming) {
    const next = new Map(this.contents);
    for (const c of incoming) {
      const name = attr(c, 'name') ?? '';
      const held = next.get(name);
      const tr = kid(c, 'transport', NS.ice);
      if (!held) throw jingleError('bad-request', '', `no content ${name}`);
      if (!tr) throw jingleError('bad-request', '', `content ${name} has no ICE transport`);
      next.set(name, { ...held, children: [...held.children.filter((k) => !(local(k) === 'transport' && ns(k) === NS.ice)), tr] });
    }
    let sdp;
    try {
      sdp = bridge.offerToSdp([...next.values()], this.offerVersion + 1);
    } catch (err) {
      throw jingleError('bad-request', '', err instanceof Error ? err.message : String(err));
    }
    return { sdp, next };
  }

  /** @param {() => Promise<void>} fn */
  run(fn) {
    this.queue = this.queue.then(fn).catch((err) => {
      this.emit('error', err instanceof Error ? err : new Error(String(err)));
    });
  }

  /**
   * @param {string} sid
   * @param {El[]} _contents
   * @param {{sdp: string, next: Map<string, El>}} offer
   */
  async startSession(sid, _contents, offer) {
    this.closeSession('replaced by a new session', true);
    this.sid = sid;
    this.contents = offer.next;
    this.offerVersion = 1;
    this.heldCandidates = [];
    this.batch = [];
    const iceServers = await Promise.resolve(this.cfg.iceServers()).catch(() => []);
    if (this.sid !== sid) return; // replaced or closed meanwhile
    const pc = new this.cfg.RTCPeerConnection({ ...this.cfg.rtcConfig, iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.pc = pc;
    pc.addEventListener('icecandidate', (ev) => this.onLocalCandidate(pc, ev.candidate));
    pc.addEventListener('connectionstatechange', () => this.onConnectionState(pc));
    pc.addEventListener('iceconnectionstatechange', () => this.onConnectionState(pc));
    this.emit('peerConnection', pc);
    this.setState('negotiating');
    if (!await this.answerOffer(pc, sid, offer.sdp, 'session-accept', { responder: this.client.jid ?? undefined })) return;
    this.releaseCandidates(pc);
    this.sendReceiveVideo(true);
    if (this.screenTrack) {
      // A share from before this session (or a reconnection) goes on.
      await this.announceScreen(sid, true).catch((err) => this.emit('error', err instanceof Error ? err : new Error(String(err))));
    }
    if (this.state === 'negotiating') this.setState('connecting');
    this.onConnectionState(pc);
  }

  /**
   * releaseCandidates sends the local candidates held until our answer
   * went out, and sends later ones as they come.
   * @param {RTCPeerConnection} pc
   */
  releaseCandidates(pc) {
    const held = this.heldCandidates ?? [];
    this.heldCandidates = null;
    this.batch.push(...held);
    this.flushCandidates(pc);
  }

  /**
   * restartTransport applies an ICE restart (transport-replace) and
   * answers with our new transports in transport-accept. Candidates of the
   * new generation wait for the answer, as at session start.
   * @param {string} sid
   * @param {{sdp: string, next: Map<string, El>}} offer
   */
  async restartTransport(sid, offer) {
    const pc = this.pc;
    if (!pc || sid !== this.sid) return;
    this.contents = offer.next;
    this.offerVersion++;
    this.heldCandidates = [];
    const transportsOnly = (/** @type {El[]} */ answer) => answer.map((c) =>
      x('content', { creator: attr(c, 'creator') ?? 'initiator', name: attr(c, 'name'), senders: attr(c, 'senders') }, kids(c, 'transport', NS.ice)));
    if (!await this.answerOffer(pc, sid, offer.sdp, 'transport-accept', {}, transportsOnly)) return;
    this.restarts++;
    this.releaseCandidates(pc);
  }

  /**
   * restartIce asks the focus for an ICE restart, e.g. when the network
   * changed. Requests closer together than restartMinIntervalMs are
   * dropped: one restart in flight is enough.
   * @param {string} why for the log
   */
  restartIce(why) {
    const sid = this.sid;
    const now = performance.now();
    if (!sid || !this.pc || this.client.state !== 'online' || now - this.lastRestartRequest < this.cfg.restartMinIntervalMs) return;
    this.lastRestartRequest = now;
    console.info(`parley: asking for an ICE restart (${why})`);
    const j = x('jingle', { xmlns: NS.jingle, action: 'session-info', sid }, [x('ice-restart', { xmlns: NS.focusRoom })]);
    this.client.request(iq('set', this.cfg.focus, j)).catch((err) => {
      console.warn('parley: the focus refused an ICE restart', err);
    });
  }

  /**
   * updateIceServers hands fresh STUN/TURN credentials to the current
   * connection: used by the next ICE restart's gathering.
   * @param {RTCIceServer[]} iceServers
   */
  updateIceServers(iceServers) {
    const pc = this.pc;
    if (!pc || typeof pc.setConfiguration !== 'function') return;
    try {
      pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
    } catch (err) {
      console.warn('parley: could not update the ICE servers', err);
    }
  }

  /**
   * @param {string} sid
   * @param {El[]} _contents
   * @param {{sdp: string, next: Map<string, El>}} offer
   */
  async renegotiate(sid, _contents, offer) {
    const pc = this.pc;
    if (!pc || sid !== this.sid) return;
    this.contents = offer.next;
    this.offerVersion++;
    await this.answerOffer(pc, sid, offer.sdp, 'content-accept');
  }

  /**
   * answerOffer applies an offer of the focus, answers it with action (our
   * answer's contents, as shape makes them) and reports whether pc is
   * still the session's. A failure ends the session.
   * @param {RTCPeerConnection} pc
   * @param {string} sid
   * @param {string} sdp
   * @param {string} action session-accept, content-accept or transport-accept
   * @param {Record<string, string|undefined>} [attrs] more attributes of <jingle/>
   * @param {(contents: El[]) => El[]} [shape] default the contents as they are
   * @returns {Promise<boolean>}
   */
  async answerOffer(pc, sid, sdp, action, attrs = {}, shape = (contents) => contents) {
    try {
      await this.applyOffer(pc, sdp);
      const contents = shape(await this.answerContents(pc));
      await this.client.request(iq('set', this.cfg.focus, x('jingle', { xmlns: NS.jingle, action, sid, ...attrs }, contents)));
    } catch (err) {
      if (this.pc === pc) this.failSession(sid, err);
      return false;
    }
    return this.pc === pc;
  }

  /**
   * applyOffer sets the remote offer, puts our tracks on the m-lines we
   * send on, and updates the remote tracks.
   * @param {RTCPeerConnection} pc
   * @param {string} sdp
   */
  async applyOffer(pc, sdp) {
    await pc.setRemoteDescription({ type: 'offer', sdp });
    const tracks = this.cfg.localTracks();
    const stream = new MediaStream([tracks.audio, tracks.video, this.screenTrack].filter((t) => t !== null));
    const slots = this.publishSlots();
    for (const t of pc.getTransceivers()) {
      const c = t.mid === null ? undefined : this.contents.get(t.mid);
      if (!c) continue;
      const senders = attr(c, 'senders') ?? 'both';
      const slot = t.mid === null ? undefined : slots.get(t.mid);
      if (sendsFromUs(c)) {
        const track = slot ? this.localTrackFor(slot) : null;
        if (t.sender.track !== track) await t.sender.replaceTrack(track);
        // setStreams gives our answer an a=msid; browsers without it send "-".
        if (track && typeof t.sender.setStreams === 'function') t.sender.setStreams(stream);
      }
      t.direction = senders === 'both' ? (sendsFromUs(c) ? 'sendrecv' : 'recvonly') : senders === 'responder' ? 'sendonly' : senders === 'initiator' ? 'recvonly' : 'inactive';
    }
    this.updateRemoteTracks(pc);
  }

  /**
   * answerContents creates and applies our answer and translates it.
   * @param {RTCPeerConnection} pc
   * @returns {Promise<El[]>}
   */
  async answerContents(pc) {
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await this.tuneEncodings(pc);
    const sdp = pc.localDescription?.sdp ?? answer.sdp ?? '';
    return bridge.answerToContents(sdp);
  }

  /**
   * updateRemoteTracks compares the m-lines we receive on with what we
   * announced, announcing removed tracks first.
   * @param {RTCPeerConnection} pc
   */
  updateRemoteTracks(pc) {
    /** @type {Map<string, RemoteTrack>} */
    const now = new Map();
    for (const t of pc.getTransceivers()) {
      const c = t.mid === null ? undefined : this.contents.get(t.mid);
      if (!c || t.mid === null || !sendsToUs(c)) continue;
      const kind = mediaOf(c);
      if (kind !== 'audio' && kind !== 'video') continue;
      const who = ownerOf(c);
      // A track of someone who left stays offered until the focus's next
      // content-add withdraws it; do not bring it back meanwhile.
      if (who.nick && this.room.state === 'in' && !this.room.occupants.has(who.nick)) continue;
      const source = kind === 'audio' ? 'audio' : who.trackId.startsWith('screen-') ? 'screen' : 'camera';
      now.set(t.mid, { nick: who.nick, owner: who.owner, streamId: who.streamId, trackId: who.trackId, kind, source, mid: t.mid, track: t.receiver.track, receiver: t.receiver });
    }
    for (const [mid, old] of this.remote) {
      const cur = now.get(mid);
      if (!cur || cur.streamId !== old.streamId || cur.nick !== old.nick || cur.track !== old.track || cur.source !== old.source) {
        this.remote.delete(mid);
        this.emit('trackRemoved', old);
      }
    }
    for (const [mid, cur] of now) {
      if (this.remote.has(mid)) continue;
      this.remote.set(mid, cur);
      this.emit('trackAdded', cur);
    }
  }

  /**
   * dropTracksOf forgets the tracks of someone who left the room; the focus
   * will withdraw their m-lines in its next content-add.
   * @param {string} nick
   */
  dropTracksOf(nick) {
    for (const [mid, t] of this.remote) {
      if (t.nick === nick) {
        this.remote.delete(mid);
        this.emit('trackRemoved', t);
      }
    }
  }

  /**
   * @param {string} sid
   * @param {El} j
   */
  async addRemoteCandidates(sid, j) {
    const pc = this.pc;
    if (!pc || sid !== this.sid) return;
    for (const c of kids(j, 'content', NS.jingle)) {
      const tr = kid(c, 'transport', NS.ice);
      if (!tr) continue;
      for (const cand of kids(tr, 'candidate', NS.ice)) {
        await pc.addIceCandidate({ candidate: bridge.candidateLine(cand), sdpMid: attr(c, 'name') ?? null });
      }
    }
  }

  /**
   * @param {RTCPeerConnection} pc
   * @param {RTCIceCandidate|null} cand
   */
  onLocalCandidate(pc, cand) {
    if (pc !== this.pc || !cand || !cand.candidate) return;
    if (this.heldCandidates) {
      this.heldCandidates.push(cand);
      return;
    }
    this.batch.push(cand);
    if (this.batch.length === 1) this.client.clock.setTimeout(() => this.flushCandidates(pc), this.cfg.candidateBatchMs);
  }

  /**
   * flushCandidates sends the gathered candidates as one transport-info,
   * grouped by m-line.
   * @param {RTCPeerConnection} pc
   */
  flushCandidates(pc) {
    if (pc !== this.pc || !this.sid || this.batch.length === 0) return;
    const batch = this.batch.splice(0);
    /** @type {Map<string, El[]>} */
    const byMid = new Map();
    for (const c of batch) {
      const mid = c.sdpMid ?? [...this.contents.keys()][c.sdpMLineIndex ?? 0];
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
      const c = this.contents.get(mid);
      return x('content', { creator: 'initiator', name: mid, senders: c ? attr(c, 'senders') : undefined }, [
        x('transport', { xmlns: NS.ice, ufrag: ufrag || undefined }, cands),
      ]);
    });
    const j = x('jingle', { xmlns: NS.jingle, action: 'transport-info', sid: this.sid }, contents);
    this.client.request(iq('set', this.cfg.focus, j)).catch(() => {
      // a refused candidate (an mDNS name the SFU cannot resolve) is not fatal
    });
  }

  /** @param {RTCPeerConnection} pc */
  onConnectionState(pc) {
    if (pc !== this.pc || this.state === 'negotiating') return;
    const s = pc.connectionState ?? pc.iceConnectionState;
    /** @type {Record<string, MediaState>} */
    const map = { new: 'connecting', connecting: 'connecting', checking: 'connecting', connected: 'connected', completed: 'connected', disconnected: 'disconnected', failed: 'failed', closed: 'ended' };
    const next = map[s];
    if (next) this.setState(next);
    this.watchForRestart(pc, next);
  }

  /**
   * watchForRestart asks for an ICE restart when the connection failed, or
   * stayed disconnected for restartAfterMs (a path that came back recovers
   * on its own before that).
   * @param {RTCPeerConnection} pc
   * @param {MediaState|undefined} s
   */
  watchForRestart(pc, s) {
    if (s === 'failed') {
      this.restartIce('the connection failed');
      return;
    }
    if (s !== 'disconnected') {
      if (this.restartTimer !== null) this.client.clock.clearTimeout(this.restartTimer);
      this.restartTimer = null;
      return;
    }
    if (this.restartTimer !== null) return;
    this.restartTimer = this.client.clock.setTimeout(() => {
      this.restartTimer = null;
      if (pc === this.pc && this.state === 'disconnected') this.restartIce(`disconnected for ${this.cfg.restartAfterMs} ms`);
    }, this.cfg.restartAfterMs);
  }

  /** @param {MediaState} s */
  setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.emit('state', s);
  }

  /**
   * failSession reports a negotiation that went wrong and tells the focus.
   * @param {string} sid
   * @param {unknown} err
   */
  failSession(sid, err) {
    const e = err instanceof Error ? err : new Error(String(err));
    this.emit('error', e);
    this.closeSession(`negotiation failed: ${e.message}`);
    if (this.client.state === 'online') {
      const j = x('jingle', { xmlns: NS.jingle, action: 'session-terminate', sid }, [
        x('reason', {}, [x('failed-application'), x('text', {}, [e.message.slice(0, 200)])]),
      ]);
      this.client.request(iq('set', this.cfg.focus, j), 3000).catch(() => {});
    }
  }

  /**
   * closeSession drops the peer connection and every remote track.
   * @param {string} reason
   * @param {boolean} [quiet] do not report sessionEnded (a new session follows)
   */
  closeSession(reason, quiet = false) {
    const pc = this.pc;
    const had = pc !== null;
    if (this.restartTimer !== null) this.client.clock.clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.pc = null;
    this.sid = null;
    this.contents = new Map();
    for (const [mid, t] of this.remote) {
      this.remote.delete(mid);
      this.emit('trackRemoved', t);
    }
    if (pc) {
      pc.close();
      this.emit('peerConnection', null);
    }
    if (had && !quiet) {
      this.setState(this.ended ? 'ended' : 'idle');
      this.emit('sessionEnded', reason);
    }
  }
}

/** @param {El} c */
function mediaOf(c) {
  const d = kid(c, 'description', NS.rtp);
  return d ? attr(d, 'media') ?? '' : '';
}

/** sendsFromUs: the focus's content lets us (the responder) send. @param {El} c */
function sendsFromUs(c) {
  const s = attr(c, 'senders') ?? 'both';
  return s === 'both' || s === 'responder';
}

/** sendsToUs: the focus sends on this content. @param {El} c */
function sendsToUs(c) {
  const s = attr(c, 'senders') ?? 'both';
  return s === 'both' || s === 'initiator';
}

/**
 * ownerOf reads who publishes the source of a content: the ssrc-info owner
 * (an occupant JID), the msid stream id, and the msid track id (whose
 * prefix says audio, video or screen).
 * @param {El} c
 * @returns {{nick: string, owner: string, streamId: string, trackId: string}}
 */
function ownerOf(c) {
  const d = kid(c, 'description', NS.rtp);
  for (const src of d ? kids(d, 'source') : []) {
    const info = kids(src, 'ssrc-info').find((k) => ns(k) === NS.jitmeet);
    const msid = kids(src, 'parameter').find((p) => attr(p, 'name') === 'msid');
    const owner = info ? attr(info, 'owner') ?? '' : '';
    const [streamId = '', trackId = ''] = msid ? (attr(msid, 'value') ?? '').split(' ') : [];
    if (owner || streamId) {
      const slash = owner.indexOf('/');
      return { nick: slash < 0 ? '' : owner.slice(slash + 1), owner, streamId, trackId };
    }
  }
  return { nick: '', owner: '', streamId: '', trackId: '' };
}

/** @param {string} j */
function bare(j) {
  const s = j.indexOf('/');
  return (s < 0 ? j : j.slice(0, s)).toLowerCase();
}

/**
 * jingleError is a StanzaError carrying an XEP-0166 Jingle condition.
 * @param {string} condition
 * @param {string} jingleCondition '' for none
 * @param {string} [text]
 */
function jingleError(condition, jingleCondition, text = '') {
  const e = new StanzaError(condition, condition === 'bad-request' || condition === 'not-acceptable' ? 'modify' : 'cancel', text);
  e.extra = jingleCondition ? x(jingleCondition, { xmlns: NS.jingleErrors }) : undefined;
  return e;
}
