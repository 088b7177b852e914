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
 * The parts: conference/publish.js (what we send), conference/tracks.js
 * (what we receive and ask of it), conference/ice.js (candidates, connection
 * state, ICE restarts) and conference/contents.js (reading the offer's
 * contents). This module keeps the session's state and its negotiation.
 *
 * No DOM access besides the WebRTC objects.
 */
import { Emitter } from './emitter.js';
import { StanzaError, iq } from './xmpp.js';
import { x, attr, ns, local, child, children } from './xml.js';
import * as bridge from './sdpbridge.js';
import { NS, sendsFromUs, jingleError, bare } from './conference/contents.js';
import { refreshLocalTracks, setScreen, announceScreen, publishSlots, localTrackFor, tuneEncodings, sendLayers } from './conference/publish.js';
import { setReceiveVideo, sendReceiveVideo, updateRemoteTracks, dropTracksOf, onFocusMessage } from './conference/tracks.js';
import { releaseCandidates, restartTransport, restartIce, updateIceServers, addRemoteCandidates, onLocalCandidate, onConnectionState } from './conference/ice.js';
import { apartFromMedia } from './extdisco.js';

export { NS } from './conference/contents.js';
/** @typedef {import('./conference/tracks.js').RemoteTrack} RemoteTrack */
/** @typedef {import('./conference/tracks.js').ReceiveVideo} ReceiveVideo */

/** @typedef {import('./xml.js').El} El */
/** @typedef {import('./xmpp.js').XmppClient} XmppClient */
/** @typedef {import('./muc.js').Room} Room */

/**
 * @typedef {'idle'|'negotiating'|'connecting'|'connected'|'disconnected'|'failed'|'ended'} MediaState
 */

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
 * @property {boolean} [allIceServers] keep the STUN and TURN-over-UDP servers on the media
 *   server's own port (see apartFromMedia in extdisco.js): for a relay-only connection,
 *   or when asked for explicitly; default false
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
      iceServers: () => [], allIceServers: false, restartAfterMs: 4000, restartMinIntervalMs: 5000, ...cfg,
    };
    this.client = cfg.client;
    this.room = cfg.room;
    /** @type {RTCPeerConnection|null} owned by the negotiation queue */
    this.pc = null;
    /** the session's offer, whose candidates say which STUN/TURN URLs to leave out (apartFromMedia) */
    this.mediaSdp = '';
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
    /** @type {'high'|'medium'|'low'} the camera quality we send (SEND_LINES in publish.js) */
    this.sendQuality = 'high';
    /** @type {Record<'camera'|'screen', string[]|null>} the layers the focus's last send-layers named, by source; null: none said this session */
    this.focusRids = { camera: null, screen: null };
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
        if (this.pc) updateRemoteTracks(this, this.pc); // tracks offered before the presence came
      }),
      this.room.on('left', (o, why) => {
        if (o.self) return;
        dropTracksOf(this, o.nick);
        this.emit('participantLeft', o.nick, why.kind);
      }),
      this.room.on('changed', (o) => {
        if (!o.self) this.emit('participantJoined', o.nick, o.displayName);
      }),
      this.client.on('offline', () => this.closeSession('connection lost')),
      this.client.on('message', (st) => onFocusMessage(this, st)),
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
  refreshLocalTracks() {
    return refreshLocalTracks(this);
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
    const done = this.queue.then(() => setScreen(this, track));
    this.queue = done.catch(() => {});
    return done;
  }

  /**
   * setReceiveVideo tells the focus what we show: our quality setting and
   * the tile heights (docs/SIGNALLING.md). The SFU then forwards each video
   * in the layer that fills its tile, within our bandwidth; a video with
   * height 0 is paused. Changes within a short while are sent as one.
   * @param {Partial<ReceiveVideo>} want
   */
  setReceiveVideo(want) {
    return setReceiveVideo(this, want);
  }

  /**
   * setSendQuality caps the camera layers we send: 'high' all that the
   * picture allows, 'medium' those of at most 360 lines, 'low' the
   * smallest (180 lines) alone. It spares a narrow uplink.
   * @param {'high'|'medium'|'low'} q
   */
  setSendQuality(q) {
    this.sendQuality = q;
    this.run(async () => {
      if (this.pc) await tuneEncodings(this, this.pc);
    });
  }

  // --- Jingle requests ---------------------------------------------------

  /**
   * onJingle answers a Jingle IQ at once and queues the media work: the
   * IQ result must precede our session-accept (XEP-0166 §6.2).
   * @param {El} st
   * @returns {null}
   */
  onJingle(st) {
    const j = child(st, 'jingle', NS.jingle);
    if (!j) throw new StanzaError('bad-request', 'modify');
    if (bare(attr(st, 'from') ?? '') !== this.cfg.focus) throw new StanzaError('not-authorized', 'auth', 'only the focus may call');
    const action = attr(j, 'action') ?? '';
    const sid = attr(j, 'sid') ?? '';
    if (action === 'session-initiate') {
      if (this.ended) throw jingleError('not-acceptable', '', 'we are leaving');
      const contents = children(j, 'content', NS.jingle);
      const sdp = this.offerSdp(contents, true); // throws bad-request when unusable
      this.run(() => this.startSession(sid, contents, sdp));
      return null;
    }
    if (sid !== this.sid) throw jingleError('item-not-found', 'unknown-session');
    switch (action) {
      case 'content-add':
      case 'content-modify': {
        const contents = children(j, 'content', NS.jingle);
        const sdp = this.offerSdp(contents, false);
        this.run(() => this.renegotiate(sid, contents, sdp));
        return null;
      }
      case 'transport-info':
        this.run(() => addRemoteCandidates(this, sid, j));
        return null;
      case 'transport-replace': {
        const offer = this.replaceTransports(children(j, 'content', NS.jingle));
        this.run(() => restartTransport(this, sid, offer));
        return null;
      }
      case 'session-terminate': {
        const reason = child(j, 'reason', NS.jingle);
        const cond = reason ? children(reason).find((c) => local(c) !== 'text') : undefined;
        this.closeSession(cond ? local(cond) : 'ended by the focus');
        return null;
      }
      case 'session-info': {
        const layers = children(j, 'send-layers').find((k) => ns(k) === NS.focusRoom);
        if (layers) {
          const source = attr(layers, 'source') === 'screen' ? 'screen' : 'camera';
          const rids = (attr(layers, 'rids') ?? '').split(',').filter((r) => r !== '');
          this.run(() => sendLayers(this, source, rids));
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
      const tr = child(c, 'transport', NS.ice);
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
    this.focusRids = { camera: null, screen: null }; // a new session: the SFU starts with every layer
    this.contents = offer.next;
    this.offerVersion = 1;
    this.heldCandidates = [];
    this.batch = [];
    this.mediaSdp = offer.sdp;
    const fetched = await Promise.resolve(this.cfg.iceServers()).catch(() => []);
    const iceServers = this.cfg.allIceServers ? fetched : apartFromMedia(fetched, offer.sdp);
    if (this.sid !== sid) return; // replaced or closed meanwhile
    const pc = new this.cfg.RTCPeerConnection({ ...this.cfg.rtcConfig, iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.pc = pc;
    pc.addEventListener('icecandidate', (ev) => onLocalCandidate(this, pc, ev.candidate));
    pc.addEventListener('connectionstatechange', () => onConnectionState(this, pc));
    pc.addEventListener('iceconnectionstatechange', () => onConnectionState(this, pc));
    this.emit('peerConnection', pc);
    this.setState('negotiating');
    if (!await this.answerOffer(pc, sid, offer.sdp, 'session-accept', { responder: this.client.jid ?? undefined })) return;
    releaseCandidates(this, pc);
    sendReceiveVideo(this, true);
    if (this.screenTrack) {
      // A share from before this session (or a reconnection) goes on.
      await announceScreen(this, sid, true).catch((err) => this.emit('error', err instanceof Error ? err : new Error(String(err))));
    }
    if (this.state === 'negotiating') this.setState('connecting');
    onConnectionState(this, pc);
  }

  /**
   * restartIce asks the focus for an ICE restart, e.g. when the network
   * changed. Requests closer together than restartMinIntervalMs are
   * dropped: one restart in flight is enough.
   * @param {string} why for the log
   */
  restartIce(why) {
    return restartIce(this, why);
  }

  /**
   * updateIceServers hands fresh STUN/TURN credentials to the current
   * connection: used by the next ICE restart's gathering.
   * @param {RTCIceServer[]} iceServers
   */
  updateIceServers(iceServers) {
    return updateIceServers(this, iceServers);
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
      // Our layers' sizes and bitrates (setParameters) are no part of the
      // answer: they are set while it travels, not before.
      const tuned = tuneEncodings(this, pc);
      await this.client.request(iq('set', this.cfg.focus, x('jingle', { xmlns: NS.jingle, action, sid, ...attrs }, contents)));
      await tuned;
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
    const slots = publishSlots(this);
    for (const t of pc.getTransceivers()) {
      const c = t.mid === null ? undefined : this.contents.get(t.mid);
      if (!c) continue;
      const senders = attr(c, 'senders') ?? 'both';
      const slot = t.mid === null ? undefined : slots.get(t.mid);
      if (sendsFromUs(c)) {
        const track = slot ? localTrackFor(this, slot) : null;
        if (t.sender.track !== track) await t.sender.replaceTrack(track);
        // setStreams gives our answer an a=msid; browsers without it send "-".
        if (track && typeof t.sender.setStreams === 'function') t.sender.setStreams(stream);
      }
      t.direction = senders === 'both' ? (sendsFromUs(c) ? 'sendrecv' : 'recvonly') : senders === 'responder' ? 'sendonly' : senders === 'initiator' ? 'recvonly' : 'inactive';
    }
    updateRemoteTracks(this, pc);
  }

  /**
   * answerContents creates and applies our answer and translates it.
   * @param {RTCPeerConnection} pc
   * @returns {Promise<El[]>}
   */
  async answerContents(pc) {
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    const sdp = pc.localDescription?.sdp ?? answer.sdp ?? '';
    return bridge.answerToContents(sdp);
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
