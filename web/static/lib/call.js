// @ts-check
/**
 * A call as the UI sees it: one XMPP client, one MUC room and one Jingle
 * session with the focus, kept together across reconnections, with a
 * participant list that merges occupants (names) and media (tracks), and a
 * status in plain words.
 *
 * No DOM access besides the WebRTC objects.
 */
import { Emitter } from './emitter.js';
import { XmppClient, AuthError } from './xmpp.js';
import { Room, JoinError } from './muc.js';
import { Conference } from './conference.js';
import { fetchServices, toIceServers, refreshDelay } from './extdisco.js';

/** @typedef {import('./conference.js').RemoteTrack} RemoteTrack */
/** @typedef {import('./conference.js').MediaState} MediaState */
/** @typedef {import('./muc.js').ChatMessage} ChatMessage */
/** @typedef {import('./muc.js').LeaveReason} LeaveReason */

/**
 * @typedef {object} Participant
 * @property {string} nick
 * @property {string} displayName
 * @property {boolean} self
 * @property {Map<string, RemoteTrack>} tracks remote tracks by mid (none for self)
 */

/**
 * @typedef {object} Status
 * @property {'connecting'|'joining'|'in-call'|'reconnecting'|'left'|'failed'} phase
 * @property {MediaState} media
 * @property {string} text plain words for the user
 * @property {boolean} bad whether the text reports a problem
 */

/**
 * @typedef {object} Events
 * @property {[p: Participant]} participant someone joined or changed (self included)
 * @property {[p: Participant, why: string]} participantLeft
 * @property {[p: Participant, t: RemoteTrack]} trackAdded
 * @property {[p: Participant, t: RemoteTrack]} trackRemoved
 * @property {[m: ChatMessage]} message
 * @property {[s: Status]} status
 * @property {[pc: RTCPeerConnection|null]} peerConnection
 * @property {[p: Participant|null, nick: string]} dominantSpeaker the server names who
 *   speaks (p null for someone we do not know yet); see also Call.dominantSpeaker
 * @property {[]} screenShareEnded our screen share stopped by itself (the browser's
 *   "stop sharing" bar, or the shared window closed)
 * @property {[reason: string, kind: EndKind]} ended the call is over for us (left, kicked, gave up)
 * @property {[room: Room]} room the room is made, before we join it (for extensions)
 */

/**
 * @typedef {'left'|'kicked'|'banned'|'destroyed'|'removed'|'lost'} EndKind why the call
 *   ended: we left, a moderator removed or banned us, the room was closed, the
 *   room dropped us for another reason, or the server could not be reached again
 */

/**
 * @typedef {object} Config
 * @property {string} url WebSocket URL of the XMPP server. Required.
 * @property {string} domain the XMPP domain, or a guess (learned from the server). Required.
 * @property {boolean} [learnDomain] whether the server may correct the domain; default true
 * @property {string|null} [muc] the MUC service's domain; default `conference.<domain>` (as learned)
 * @property {string|null} [focus] the focus's JID; default `focus.<domain>` (as learned)
 * @property {string} room the room's localpart (already normalized). Required.
 * @property {string} nick the MUC nick to ask for. Required.
 * @property {string} [displayName] default the nick
 * @property {string} [password] the room's password, if it has one; default none
 * @property {() => {audio: MediaStreamTrack|null, video: MediaStreamTrack|null}} localTracks Required.
 * @property {import('./sasl.js').Credentials|null} [credentials] default guest
 * @property {Partial<import('./xmpp.js').Config>} [xmpp] more client settings (tests)
 * @property {'all'|'relay'} [icePolicy] default 'all'; 'relay' sends media only through TURN
 * @property {import('./extdisco.js').TurnTransport[]|null} [turnTransports] keep only TURN
 *   servers of these transports; default all of them, and STUN
 * @property {Connection} [connection] a client made for this call (its url, domain and
 *   credentials) whose login is already under way; default a new client, logged in by connect()
 */

/**
 * @typedef {object} Connection an XMPP client logging in before its call is made: a page
 *   going straight into a call logs in while the rest of it loads (ui/early.js)
 * @property {XmppClient} client
 * @property {Promise<string>} login its connect(): the bound JID
 */

/**
 * How often, and after how long, a media connection still failed despite
 * ICE restarts is retried with a whole new session (reconnect, rejoin).
 */
const MAX_MEDIA_RETRIES = 3;
const MEDIA_RETRY_DELAY_MS = 15000;
/** How long the first call waits for the STUN/TURN servers before going without. */
const ICE_SERVERS_WAIT_MS = 3000;

/** Call ties the client, the room and the conference together. @extends {Emitter<Events>} */
export class Call extends Emitter {
  /** @param {Config} cfg */
  constructor(cfg) {
    super();
    this.cfg = cfg; // immutable
    this.client = cfg.connection?.client ?? new XmppClient({ url: cfg.url, domain: cfg.domain, learnDomain: cfg.learnDomain ?? true, credentials: cfg.credentials ?? null, ...cfg.xmpp });
    /** @type {Room|null} set once connected (the room JID needs the learned domain) */
    this.room = null;
    /** @type {Conference|null} */
    this.conference = null;
    /** @type {Partial<import('./conference.js').ReceiveVideo>} what setReceiveVideo asked, for a conference made later */
    this.receiveWant = {};
    /** @type {'high'|'medium'|'low'} what setSendQuality asked, for a conference made later */
    this.sendQuality = 'high';
    /** @type {Map<string, Participant>} by nick */
    this.participants = new Map();
    /** @type {Status} */
    this.status = { phase: 'connecting', media: 'idle', text: 'Connecting…', bad: false };
    this.leaving = false;
    this.mediaRetries = 0; // reconnections made because media failed, since media last connected
    /** @type {Promise<string>|null} the first login, once connect or start began it (or cfg.connection's) */
    this.connecting = cfg.connection?.login ?? null;
    /** @type {Promise<RTCIceServer[]>} the STUN/TURN servers, fetched at each login */
    this.iceServers = Promise.resolve([]);
    /** @type {any} the timer that fetches fresh TURN credentials */
    this.iceRefresh = null;
    this.client.on('reconnecting', ({ delayMs }) => {
      this.setStatus({ phase: 'reconnecting', text: `Connection lost, reconnecting${delayMs > 1500 ? ` in ${Math.round(delayMs / 1000)} s` : ''}…`, bad: true });
    });
    this.client.on('offline', () => this.forgetOthers('connection lost'));
    this.client.on('online', (_jid, again) => {
      this.loadIceServers();
      if (again) this.setStatus({ phase: 'joining', text: 'Reconnected, rejoining the room…', bad: false });
    });
    this.client.on('failed', (err) => this.end(`Could not log in again: ${err.message}`, 'lost'));
    // A client that logged in before this call was made: its 'online' went by.
    if (this.client.state === 'online') this.loadIceServers();
  }

  /**
   * connect logs in, once (or waits for cfg.connection's login): start()
   * waits for the same login.
   * @returns {Promise<string>} the bound JID
   */
  connect() {
    this.connecting ??= this.client.connect();
    return this.connecting;
  }

  /** start connects (or waits for connect), joins the room and waits for the focus to call. */
  async start() {
    try {
      await this.connect();
    } catch (err) {
      this.setStatus({ phase: 'failed', text: connectProblem(err), bad: true });
      throw err;
    }
    this.setStatus({ phase: 'joining', text: 'Joining the room…', bad: false });
    const room = new Room({
      client: this.client,
      room: `${this.cfg.room}@${this.cfg.muc || `conference.${this.client.domain}`}`,
      nick: this.cfg.nick,
      displayName: this.cfg.displayName ?? this.cfg.nick,
      password: this.cfg.password,
    });
    this.room = room;
    this.emit('room', room);
    this.conference = new Conference({
      client: this.client, room, focus: this.focusJid(), localTracks: this.cfg.localTracks,
      rtcConfig: { iceTransportPolicy: this.cfg.icePolicy ?? 'all' },
      iceServers: () => withTimeout(this.iceServers, this.client.clock, ICE_SERVERS_WAIT_MS, []),
      allIceServers: this.cfg.icePolicy === 'relay' || Boolean(this.cfg.turnTransports),
    });
    if (Object.keys(this.receiveWant).length > 0) this.conference.setReceiveVideo(this.receiveWant);
    if (this.sendQuality !== 'high') this.conference.setSendQuality(this.sendQuality);
    this.wire(room, this.conference);
    try {
      await room.join();
    } catch (err) {
      const text = err instanceof JoinError ? joinProblem(err) : `Could not join the room (${err instanceof Error ? err.message : err}).`;
      this.setStatus({ phase: 'failed', text, bad: true });
      await this.client.close();
      throw err;
    }
    this.setStatus({ phase: 'in-call', text: 'Waiting for the media server…', bad: false });
  }

  /**
   * loadIceServers asks the server for STUN/TURN (XEP-0215) and schedules
   * the next fetch before the credentials expire. A server without the
   * service leaves us with none: the SFU's own candidates still work.
   */
  loadIceServers() {
    if (this.iceRefresh !== null) this.client.clock.clearTimeout(this.iceRefresh);
    this.iceRefresh = null;
    const fetched = fetchServices(this.client).then((services) => {
      const delay = refreshDelay(services, Date.now());
      if (delay !== null && !this.leaving) this.iceRefresh = this.client.clock.setTimeout(() => this.loadIceServers(), delay);
      return toIceServers(services, this.cfg.turnTransports ?? null);
    }, (err) => {
      console.warn('parley: no STUN/TURN servers from the server', err);
      return /** @type {RTCIceServer[]} */ ([]);
    });
    fetched.then((servers) => {
      // The connection in use learns the fresh credentials for its next restart.
      if (this.iceServers === fetched) this.conference?.updateIceServers(servers);
    });
    this.iceServers = fetched;
  }

  /** restartIce asks for a new ICE session, e.g. after a change of network. @param {string} why */
  restartIce(why) {
    this.conference?.restartIce(why);
  }

  /**
   * @param {Room} room
   * @param {Conference} conf
   */
  wire(room, conf) {
    // The focus of another XMPP server (`parley focus`, Jicofo-like) sits in
    // the room as an occupant: it is no participant (EXTERNAL-XMPP.md).
    const isFocus = (/** @type {{realJid: string|null}} */ o) => o.realJid !== null && o.realJid.split('/')[0].toLowerCase() === this.focusJid();
    room.on('joined', (o) => { if (!isFocus(o)) this.upsert(o.nick, o.displayName, o.self); });
    room.on('changed', (o) => { if (!isFocus(o)) this.upsert(o.nick, o.displayName, o.self); });
    room.on('left', (o, why) => {
      const p = this.participants.get(o.nick);
      if (!p || p.self) return;
      for (const t of p.tracks.values()) this.emit('trackRemoved', p, t);
      this.participants.delete(o.nick);
      this.emit('participantLeft', p, why.kind);
    });
    room.on('message', (m) => this.emit('message', m));
    room.on('removed', (why) => {
      if (!this.leaving) this.end(removedText(why), why.kind === 'renamed' || why.kind === 'disconnected' ? 'removed' : why.kind);
    });
    room.on('rejoined', () => this.setStatus({ phase: 'in-call', text: 'Back in the room, waiting for the media server…', bad: false }));
    room.on('rejoinFailed', (err) => this.end(`Could not rejoin the room: ${err.message}`, 'lost'));
    conf.on('trackAdded', (t) => {
      const p = this.participants.get(t.nick) ?? this.upsert(t.nick || `(${t.streamId})`, t.nick || 'Someone', false);
      p.tracks.set(t.mid, t);
      this.emit('trackAdded', p, t);
    });
    conf.on('trackRemoved', (t) => {
      for (const p of this.participants.values()) {
        if (p.tracks.get(t.mid) === t) {
          p.tracks.delete(t.mid);
          this.emit('trackRemoved', p, t);
        }
      }
    });
    conf.on('peerConnection', (pc) => this.emit('peerConnection', pc));
    conf.on('screenShareEnded', () => this.emit('screenShareEnded'));
    conf.on('dominantSpeaker', (nick) => this.emit('dominantSpeaker', this.participants.get(nick) ?? null, nick));
    conf.on('state', (s) => this.onMediaState(s));
    conf.on('error', (err) => console.warn('parley: media negotiation failed', err));
  }

  /** focusJid is the focus's JID: the configured one, or focus.<domain> as learned. */
  focusJid() {
    return (this.cfg.focus || `focus.${this.client.domain}`).toLowerCase();
  }

  /**
   * @param {string} nick
   * @param {string} displayName
   * @param {boolean} self
   */
  upsert(nick, displayName, self) {
    let p = this.participants.get(nick);
    if (!p) {
      p = { nick, displayName, self, tracks: new Map() };
      this.participants.set(nick, p);
    } else {
      p.displayName = displayName;
    }
    this.emit('participant', p);
    return p;
  }

  /** @param {string} why */
  forgetOthers(why) {
    for (const p of [...this.participants.values()]) {
      if (p.self) continue;
      for (const t of p.tracks.values()) this.emit('trackRemoved', p, t);
      this.participants.delete(p.nick);
      this.emit('participantLeft', p, why);
    }
  }

  /** @param {MediaState} s */
  onMediaState(s) {
    if (this.status.phase === 'reconnecting') {
      this.status.media = s;
      return;
    }
    if (s === 'connected') this.mediaRetries = 0;
    if (s === 'failed' && this.mediaRetries < MAX_MEDIA_RETRIES && !this.leaving) {
      // The conference asks for an ICE restart at once; if media is still
      // failed long after, a new session may do better. Reconnecting gets
      // one: the room is rejoined and the focus calls again.
      this.mediaRetries++;
      this.setStatus({ phase: 'in-call', media: s, text: 'Audio and video could not connect; trying again…', bad: true });
      this.client.clock.setTimeout(() => {
        if (this.conference?.state === 'failed') this.client.restart('media failed');
      }, MEDIA_RETRY_DELAY_MS);
      return;
    }
    /** @type {Record<MediaState, [string, boolean]>} */
    const words = {
      idle: ['Waiting for the media server…', false],
      negotiating: ['Setting up audio and video…', false],
      connecting: ['Connecting audio and video…', false],
      connected: ['Connected', false],
      disconnected: ['Audio and video interrupted, trying to recover…', true],
      failed: ['Audio and video could not connect (a firewall may block UDP).', true],
      ended: ['Call ended', false],
    };
    const [text, bad] = words[s];
    this.setStatus({ phase: this.status.phase === 'failed' ? 'failed' : 'in-call', media: s, text, bad });
  }

  /** @param {Partial<Status>} s */
  setStatus(s) {
    this.status = { ...this.status, ...s };
    this.emit('status', this.status);
  }

  /**
   * say sends a chat message to the room.
   * @param {string} text
   */
  say(text) {
    this.room?.say(text);
  }

  /** refreshLocalTracks puts the current local tracks on the wire. */
  refreshLocalTracks() {
    return this.conference?.refreshLocalTracks() ?? Promise.resolve();
  }

  /**
   * shareScreen shares a screen, window or tab (a video track from
   * getDisplayMedia) as a second video beside the camera. The others get
   * it as a track whose source is 'screen'. Calling it again replaces the
   * shared track. Rejects when the server refuses.
   * @param {MediaStreamTrack} track
   */
  shareScreen(track) {
    if (!this.conference) return Promise.reject(new Error('not in a call'));
    return this.conference.shareScreen(track);
  }

  /** stopScreenShare stops sharing; the others lose the screen track. */
  stopScreenShare() {
    return this.conference?.shareScreen(null) ?? Promise.resolve();
  }

  /**
   * setReceiveVideo says what this page shows: the user's quality setting
   * ('high', 'medium', 'low') and, by RemoteTrack.trackId, the height in
   * device pixels of the largest tile showing each video (0: not shown, and
   * the server stops sending it). The server picks each video's simulcast
   * layer from it and from the bandwidth it measures. Call it whenever
   * tiles change size or appear; changes are coalesced. Asked before the
   * conference exists, it is kept for it.
   * @param {Partial<import('./conference.js').ReceiveVideo>} want
   */
  setReceiveVideo(want) {
    this.receiveWant = { ...this.receiveWant, ...want };
    this.conference?.setReceiveVideo(want);
  }

  /**
   * setSendQuality caps the camera layers this page sends (Conference's
   * setSendQuality); asked before the conference exists, it is kept for it.
   * @param {'high'|'medium'|'low'} q
   */
  setSendQuality(q) {
    this.sendQuality = q;
    this.conference?.setSendQuality(q);
  }

  /** @returns {string} the nick of the dominant speaker the server last named, '' before */
  get dominantSpeaker() {
    return this.conference?.dominantSpeaker ?? '';
  }

  /** @returns {MediaStreamTrack|null} the screen track we share, if any */
  get screenTrack() {
    return this.conference?.screenTrack ?? null;
  }

  /** leave hangs up, leaves the room and disconnects. */
  async leave() {
    if (this.leaving) return;
    this.leaving = true;
    await this.conference?.hangUp().catch(() => {});
    await this.room?.leave().catch(() => {});
    await this.client.close().catch(() => {});
    this.end('You left the call.');
  }

  /**
   * @param {string} reason
   * @param {EndKind} [kind] default 'left'
   */
  end(reason, kind = 'left') {
    if (this.status.phase === 'left') return;
    this.leaving = true;
    if (this.iceRefresh !== null) this.client.clock.clearTimeout(this.iceRefresh);
    this.iceRefresh = null;
    this.conference?.closeSession(reason);
    this.client.close().catch(() => {});
    this.setStatus({ phase: 'left', text: reason, bad: false });
    this.emit('ended', reason, kind);
  }
}

/**
 * withTimeout settles with p, or with fallback after ms on clock.
 * @template T
 * @param {Promise<T>} p
 * @param {import('./xmpp.js').Clock} clock
 * @param {number} ms
 * @param {T} fallback
 * @returns {Promise<T>}
 */
function withTimeout(p, clock, ms, fallback) {
  return Promise.race([p, new Promise((resolve) => clock.setTimeout(() => resolve(fallback), ms))]);
}

/** @param {unknown} err */
function connectProblem(err) {
  if (err instanceof AuthError) return `The server refused the login (${err.condition}).`;
  return `Could not connect to the server (${err instanceof Error ? err.message : err}).`;
}

/** @param {JoinError} err */
function joinProblem(err) {
  switch (err.condition) {
    case 'not-authorized':
      return 'This room needs a password.';
    case 'forbidden':
      return 'You are banned from this room.';
    case 'registration-required':
      return 'This room is for members only.';
    case 'service-unavailable':
      return 'The room is full.';
    case 'conflict':
      return 'That name is taken in this room; pick another.';
    default:
      return `Could not join the room (${err.condition}).`;
  }
}

/** @param {LeaveReason} why */
function removedText(why) {
  const because = why.text ? `: ${why.text}` : '.';
  switch (why.kind) {
    case 'kicked':
      return `You were removed from the call${because}`;
    case 'banned':
      return `You were banned from this room${because}`;
    case 'destroyed':
      return `The room was closed${because}`;
    default:
      return `You are no longer in the room${because}`;
  }
}
