// @ts-check
/**
 * The call screen. CallView owns the call's UI state (callstate.js): every
 * change goes through it, then render() brings the stage, the people panel
 * and the controls up to date. It drives a Call (lib/call.js), publishes our
 * mute/camera/hand/screen state and reactions through RoomExtras, and
 * exposes window.parley for tests.
 */
import { Call } from '../lib/call.js';
import { JoinError } from '../lib/muc.js';
import { clientConfig, needsLogin, tokenRefused } from '../lib/login.js';
import { endMeeting } from '../lib/lobby.js';
import { keepResumption, forgetResumption } from './session.js';
import { RoomExtras, readState } from '../lib/roomextras.js';
import { traceOf } from './early.js';
import { byId, show, h } from './dom.js';
import { stopAll } from './media.js';
import { t, onLanguageChange, applyTranslations } from './i18n.js';
import { newCallState, newMember, splitVideos, pinnedStreams } from './callstate.js';
import { Stage } from './tiles.js';
import { renderPeople } from './people.js';
import { ChatPanel } from './chat.js';
import { prefs } from './prefs.js';
import { Controls } from './controls.js';
import { levelMeter } from './meter.js';
import { Monitor, downloadDebug } from './monitor.js';
import { LobbyPanel, showWaiting } from './lobbyview.js';
import { RoomAccess } from './roomaccess.js';
import { RecordingControl } from './recordingview.js';
import { recordingOf } from '../lib/recording.js';
import { InviteControl } from './phoneview.js';
import { isPhone } from '../lib/phone.js';

/** @typedef {import('./media.js').LocalMedia} LocalMedia */
/** @typedef {import('../lib/call.js').Participant} Participant */
/** @typedef {import('../lib/call.js').EndKind} EndKind */
/** @typedef {import('../lib/conference.js').RemoteTrack} RemoteTrack */
/** @typedef {import('./callstate.js').Member} Member */

/**
 * @typedef {object} TestHook what browser tests read (window.parley)
 * @property {RTCPeerConnection|null} pc the current peer connection
 * @property {Map<string, {displayName: string, tracks: MediaStreamTrack[], receivers: RTCRtpReceiver[]}>} participants
 *   remote participants by nick, with their live tracks
 * @property {{phase: string, media: string, text: string}} status
 * @property {Call} call
 * @property {import('./callstate.js').CallState} state the UI state
 * @property {RoomExtras|null} extras
 * @property {{t: number, type: string, nick: string, kind?: string}[]} events track and people events, in order
 * @property {string[]} statusLog every status text shown, in order (the last 100)
 * @property {() => {t: number, dir: string, xml: string}[]} trace the signalling so far, redacted (the debug file's)
 */

/**
 * @typedef {object} CallOptions
 * @property {string} room
 * @property {string} name
 * @property {string} [password]
 * @property {LocalMedia} media
 * @property {string} [speaker] audio output deviceId
 * @property {import('../lib/login.js').Login} login how to log in
 * @property {import('../lib/siteconfig.js').SiteConfig} site where the XMPP server is (config.json)
 * @property {(why: string, media: LocalMedia, need: 'password'|'account') => void} onRefused the room
 *   wants a (right) password, or the server an account (it takes no guests, or refused the password)
 * @property {(login: import('../lib/login.js').Login) => void} onRetry start again with another
 *   login (a guest whose resumption token the server refused logs in afresh)
 * @property {import('./early.js').EarlyConnection} [early] the login the page began for
 *   these options (ui/early.js); default a new one when the call starts
 */

/**
 * startCall shows the call screen and joins.
 * @param {CallOptions} opts
 */
export function startCall(opts) {
  show('call');
  byId('call-room').textContent = opts.room;
  prefs.addRecent(opts.room);
  const view = new CallView(opts);
  view.start();
}

class CallView {
  /** @param {CallOptions} opts */
  constructor(opts) {
    this.opts = opts; // immutable
    this.media = opts.media; // local tracks; owned by this view
    this.state = newCallState();
    this.speaker = opts.speaker ?? prefs.devices().speaker ?? '';
    /** @type {RoomExtras|null} set when the call makes its room */
    this.extras = null;
    /** @type {LobbyPanel|null} who knocks, for moderators; set with the room */
    this.lobby = null;
    /** @type {RoomAccess|null} the lobby and guest switches, for moderators; set with the room */
    this.access = null;
    /** @type {RecordingControl|null} the recording badge and button; set with the room */
    this.recording = null;
    /** @type {InviteControl|null} the invite dialog (link, dial-in PIN, dial-out); set with the room */
    this.invite = null;
    this.waiting = false; // we knocked and wait in the lobby
    /** @type {import('../lib/muc.js').LeaveReason|null} why the room removed us, once it did */
    this.removedWhy = null;
    /** whether the room stays when its meeting ends (declared, persistent): rejoining then makes sense */
    this.roomStays = true;
    /** @type {Map<string, string>} every display name seen, by nick (to name who ended the meeting) */
    this.seenNames = new Map();
    this.renderQueued = false;
    this.pinsSent = ''; // the stream ids last sent as pinned (sendReceiveVideo), space-separated
    this.heightsSent = ''; // the tile heights last sent (sendReceiveVideo), serialized
    this.active = true; // false once the call screen is gone
    this.abort = new AbortController(); // ends the listeners on page elements this view added
    /** @type {Map<string, HTMLAudioElement>} remote audio by track id; outside tiles so paging never silences anyone */
    this.audio = new Map();
    this.audioSink = h('div', { hidden: '' });
    document.body.append(this.audioSink);
    this.stage = new Stage(byId('grid'), { onPin: (key) => this.togglePin(key), onPage: () => this.renderPager() });
    const params = new URLSearchParams(location.search);
    // ?ice=relay forces media through TURN; ?turn=tcp,tls keeps only those
    // TURN transports. Both are for debugging a network (and for tests).
    const turn = params.get('turn');
    const turnTransports = turn ? /** @type {import('../lib/extdisco.js').TurnTransport[]} */ (turn.split(',').filter((x) => ['udp', 'tcp', 'tls'].includes(x))) : null;
    // A guest logs in to the site's guest host when it has one (Prosody's
    // anonymous VirtualHost); the rooms and the focus stay the site's.
    const guestHost = opts.login.kind === 'guest' ? opts.site.guestDomain : null;
    /** the client's config without a login, for the resumption URL */
    this.base = { url: opts.site.url, domain: guestHost ?? opts.site.domain };
    const login = clientConfig(this.base, opts.login);
    this.call = new Call({
      url: login.url,
      domain: this.base.domain,
      learnDomain: guestHost === null && opts.site.learnDomain,
      muc: opts.site.muc,
      focus: opts.site.focus,
      credentials: login.credentials,
      xmpp: { mechanisms: login.mechanisms },
      connection: opts.early,
      room: opts.room,
      nick: opts.name,
      displayName: opts.name,
      password: opts.password || undefined,
      localTracks: () => ({ audio: this.media.stream.getAudioTracks()[0] ?? null, video: this.media.stream.getVideoTracks()[0] ?? null }),
      icePolicy: params.get('ice') === 'relay' ? 'relay' : 'all',
      turnTransports,
    });
    /** the signalling trace of the debug file, from the first stanza */
    this.recorder = opts.early?.recorder ?? traceOf(this.call.client);
    // The user's video quality setting reaches the SFU as the cap on the
    // simulcast layer it forwards to us (SIGNALLING.md §3b').
    if (prefs.quality() !== 'high') this.call.setReceiveVideo({ quality: prefs.quality() });
    if (prefs.sendQuality() !== 'high') this.call.setSendQuality(prefs.sendQuality());
    // A new network (Wi-Fi to mobile, a VPN coming up) needs new ICE candidates.
    window.addEventListener('online', () => this.call.restartIce('the network changed'), { signal: this.abort.signal });
    // A resized window (or side panel) changes the tiles' sizes, and so
    // the layers they need: the stage alone is laid out again (rebuilding
    // the People list too would pull its buttons from under a click).
    this.resized = new ResizeObserver(() => {
      if (!this.active) return;
      this.stage.render(this.state);
      this.sendReceiveVideo();
    });
    this.resized.observe(byId('grid'));
    /** @type {TestHook} */
    this.hook = { pc: null, participants: new Map(), status: this.call.status, call: this.call, state: this.state, extras: null, events: [], statusLog: [], trace: () => this.recorder.trace };
    /** @type {any} */ (window).parley = this.hook;
    this.chat = new ChatPanel({
      sayAll: (body) => this.need().say(body),
      sayPrivate: (nick, body) => this.need().sendPrivate(nick, body),
      nameOf: (nick) => this.state.members.get(nick)?.displayName ?? nick,
      isOpen: () => this.state.panel === 'chat',
      onUnread: (n) => this.controls.setUnread(n),
    }, this.abort.signal);
    this.controls = new Controls(this);
    this.monitor = new Monitor(this);
    /** @type {ReturnType<typeof levelMeter>|null} */
    this.selfMeter = null;
  }

  /**
   * nameOf is the display name of a nick, also after it left.
   * @param {string} nick
   */
  nameOf(nick) {
    return this.state.members.get(nick)?.displayName ?? this.seenNames.get(nick) ?? nick;
  }

  /**
   * endForAll ends the meeting for everyone (the room checks end_meeting).
   * @param {string} reason told to everyone; '' for none
   */
  async endForAll(reason) {
    const room = this.call.room;
    if (!room) return;
    try {
      await endMeeting(this.call.client, room.jid, reason || undefined);
    } catch (err) {
      this.chat.system(t('moderation.refused', { detail: err instanceof Error ? err.message : String(err) }), true);
    }
  }

  /** need returns the room extensions, or throws when not in a room yet. */
  need() {
    if (!this.extras) throw new Error('not in the room');
    return this.extras;
  }

  start() {
    this.wireCall();
    this.controls.wire();
    for (const p of this.media.problems) this.chat.system(p, true);
    const off = onLanguageChange(() => {
      this.showStatus();
      this.render();
    });
    this.abort.signal.addEventListener('abort', off);
    this.call.start().then(() => {
      if (this.waiting) {
        // A moderator let us in.
        this.waiting = false;
        show('call');
      }
      this.monitor.start();
      this.call.room?.features().then((f) => {
        this.roomStays = f.includes('muc_persistent');
      }, () => {});
      if (this.opts.login.kind === 'guest') keepResumption(this.call.client, this.base);
    }, (err) => this.failed(err));
  }

  /** @param {unknown} err */
  failed(err) {
    if (err instanceof JoinError && err.condition === 'not-authorized') {
      this.close();
      stopAll(this.media.stream);
      this.opts.onRefused(t(this.opts.password ? 'prejoin.passwordWrong' : 'prejoin.passwordNeeded'), this.media, 'password');
      return;
    }
    if (this.loginFailed(err)) return;
    if (err instanceof JoinError && err.condition === 'not-allowed' && this.waiting) {
      this.ended(err.text ? t('lobby.declinedBecause', { reason: err.text }) : t('lobby.declinedText'), 'removed', true, 'lobby.declinedTitle');
      byId('left').dataset.kind = 'denied';
      return;
    }
    /** @type {Record<string, string>} */
    const words = { forbidden: 'status.banned', 'registration-required': 'status.membersOnly', 'service-unavailable': 'status.full', conflict: 'status.nameTaken' };
    const key = err instanceof JoinError ? (words[err.condition] ?? 'status.joinFailed') : 'status.connectFailed';
    this.ended(t(key, { detail: err instanceof Error ? err.message : String(err) }), 'lost', true);
  }

  /**
   * loginFailed handles a login the server refused: no guests here (ask
   * for an account), a wrong account password (ask again), a stale
   * resumption token (log in afresh), a refused token (say why; never a
   * guest instead). False for other failures.
   * @param {unknown} err
   */
  loginFailed(err) {
    const login = this.opts.login;
    const refused = tokenRefused(err);
    if (!needsLogin(err) && refused === null) return false;
    if (login.kind === 'guest' && login.resume && refused !== null) {
      forgetResumption();
      this.close();
      this.opts.onRetry({ kind: 'guest' });
      return true;
    }
    if (login.kind === 'token' && refused !== null) {
      this.ended(t('login.tokenRefused', { detail: refused }), 'lost', true, 'login.tokenRefusedTitle');
      return true;
    }
    this.close();
    stopAll(this.media.stream);
    this.opts.onRefused(t(login.kind === 'account' ? 'login.wrong' : 'login.needed'), this.media, 'account');
    return true;
  }

  wireCall() {
    const c = this.call;
    c.on('room', (room) => {
      this.extras?.dispose();
      const extras = new RoomExtras({ client: c.client, room });
      this.extras = extras;
      this.hook.extras = extras;
      extras.publish(this.controls.ownState());
      extras.on('reaction', (nick, emoji) => {
        const m = this.state.members.get(nick);
        this.stage.react(m?.self ? '' : nick, emoji);
        this.log('reaction', nick, emoji);
      });
      extras.on('private', (m) => this.chat.add({ from: m.nick, body: m.body, self: false, private: true }));
      extras.on('sendFailed', (id, cond) => this.chat.failed(id, cond));
      extras.on('request', (from, action) => this.controls.onRequest(from, action));
      this.lobby?.close();
      this.lobby = new LobbyPanel({ client: c.client, room: room.jid, say: (text, bad) => this.chat.system(text, bad) });
      this.access?.close();
      this.access = new RoomAccess({ client: c.client, room: room.jid, say: (text, bad) => this.chat.system(text, bad) });
      this.recording?.close();
      this.recording = new RecordingControl({ client: c.client, room, say: (text, bad) => this.chat.system(text, bad) });
      this.invite?.close();
      this.invite = new InviteControl({ client: c.client, room, link: location.origin + location.pathname, say: (text, bad) => this.chat.system(text, bad) });
      room.on('removed', (why) => {
        this.removedWhy = why;
      });
      room.on('unmuteAsked', (media, by) => {
        if (media.length === 0 || media.includes('audio')) this.controls.onUnmuteAsked(this.nameOf(by));
      });
      room.on('waiting', () => {
        this.waiting = true;
        show('lobby');
        showWaiting(this.opts.room, () => this.call.leave());
      });
    });
    c.on('status', (s) => {
      this.hook.status = s;
      if (this.hook.statusLog.at(-1) !== s.text) this.hook.statusLog.push(s.text);
      if (this.hook.statusLog.length > 100) this.hook.statusLog.shift();
      this.showStatus();
    });
    c.on('participant', (p) => {
      const o = this.call.room?.occupants.get(p.nick);
      if (o && recordingOf(o)) return; // a recorder: the badge says it, no tile
      this.upsert(p);
      this.log('joined', p.nick);
    });
    c.on('participantLeft', (p) => {
      this.state.members.delete(p.nick);
      this.hook.participants.delete(p.nick);
      if (this.state.pinned === p.nick) this.state.pinned = null;
      this.render();
      this.log('left', p.nick);
    });
    c.on('trackAdded', (p, tr) => this.onTrackAdded(p, tr));
    c.on('trackRemoved', (p, tr) => this.onTrackRemoved(p, tr));
    c.on('peerConnection', (pc) => {
      this.hook.pc = pc;
    });
    c.on('message', (m) => this.chat.add({ from: m.nick, body: m.body, self: m.self, when: m.delayed, id: m.id }));
    c.on('ended', (reason, kind) => this.ended(reason, kind));
    c.on('screenShareEnded', () => this.controls.stopShare());
    c.on('dominantSpeaker', (_p, nick) => {
      const m = this.state.members.get(nick);
      if (!m) return;
      m.lastSpoke = Date.now();
      this.state.dominant = nick;
      this.log('dominant', nick);
      this.render();
    });
  }

  /**
   * upsert brings a member up to date from the call and the room's presence.
   * @param {Participant} p
   */
  upsert(p) {
    let m = this.state.members.get(p.nick);
    if (!m) {
      m = newMember(p.nick, p.displayName, p.self);
      this.state.members.set(p.nick, m);
    }
    m.displayName = p.displayName;
    this.seenNames.set(p.nick, p.displayName);
    const o = this.call.room?.occupants.get(p.nick);
    if (o) {
      m.role = o.role;
      m.affiliation = o.affiliation;
      m.permissions = o.permissions;
      m.muted = o.muted;
      m.phone = isPhone(o);
      if (p.self) this.controls.onServerMute(o.muted, o.actor ? this.nameOf(o.actor) : '');
    }
    if (p.self) {
      // Our own state is what we publish, not what the room last echoed.
      m.state = this.controls.ownState();
      m.camera = this.controls.selfCamera();
      m.screen = this.controls.screenStream();
      if (!this.selfMeter && this.media.stream.getAudioTracks()[0]) this.selfMeter = levelMeter(this.media.stream.getAudioTracks()[0]);
    } else {
      if (o) m.state = readState(o.payload);
      this.splitVideos(m);
      this.hookEntry(p);
    }
    this.render();
  }

  /** @param {Member} m */
  splitVideos(m) {
    const { camera, screen } = splitVideos(m.videos);
    const same = (/** @type {MediaStream|null} */ s, /** @type {RemoteTrack|null} */ tr) => (s?.getVideoTracks()[0] ?? null) === (tr?.track ?? null);
    if (!same(m.camera, camera)) m.camera = camera ? new MediaStream([camera.track]) : null;
    if (!same(m.screen, screen)) {
      // A share that starts is shown large, as everyone expects; the user may switch back.
      if (screen && !m.screen) this.state.layout = 'speaker';
      m.screen = screen ? new MediaStream([screen.track]) : null;
    }
  }

  /**
   * @param {Participant} p
   * @param {RemoteTrack} tr
   */
  onTrackAdded(p, tr) {
    if (tr.kind === 'video') {
      const m = this.state.members.get(p.nick);
      if (m && !m.videos.includes(tr)) m.videos.push(tr);
      if (m) this.splitVideos(m);
      this.render();
    } else {
      const el = h('audio', { autoplay: '' });
      el.srcObject = new MediaStream([tr.track]);
      if (this.speaker && 'setSinkId' in el) /** @type {any} */ (el).setSinkId(this.speaker).catch(() => {});
      this.audioSink.append(el);
      this.audio.set(tr.track.id, el);
      this.play(el);
    }
    this.hookEntry(p);
    this.log('track-added', p.nick, tr.kind);
  }

  /**
   * @param {Participant} p
   * @param {RemoteTrack} tr
   */
  onTrackRemoved(p, tr) {
    const el = this.audio.get(tr.track.id);
    if (el) {
      el.srcObject = null;
      el.remove();
      this.audio.delete(tr.track.id);
    }
    const m = this.state.members.get(p.nick);
    if (m) {
      m.videos = m.videos.filter((v) => v !== tr);
      this.splitVideos(m);
      this.render();
    }
    if (this.call.participants.has(p.nick)) this.hookEntry(p);
    this.log('track-removed', p.nick, tr.kind);
  }

  /** @param {Participant} p */
  hookEntry(p) {
    const tracks = [...p.tracks.values()];
    this.hook.participants.set(p.nick, {
      displayName: p.displayName,
      tracks: tracks.map((x) => x.track),
      receivers: tracks.map((x) => x.receiver),
    });
  }

  /**
   * @param {string} type
   * @param {string} nick
   * @param {string} [kind]
   */
  log(type, nick, kind) {
    this.hook.events.push({ t: Date.now(), type, nick, kind });
    if (this.hook.events.length > 500) this.hook.events.splice(0, 100);
  }

  /** render schedules one redraw of everything state-driven. */
  render() {
    if (this.renderQueued || !this.active) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      if (!this.active) return;
      this.stage.render(this.state);
      this.sendReceiveVideo();
      renderPeople(byId('people'), byId('people-title'), this.state, (a, m) => this.controls.moderate(a, m));
      this.lobby?.render();
      this.access?.render([...this.state.members.values()].find((m) => m.self), this.state.panel === 'people');
      const others = [...this.state.members.values()].filter((m) => !m.self).map((m) => ({ nick: m.nick, name: m.displayName }));
      this.chat.setRecipients(others);
      byId('call-count').textContent = t('call.count', { count: this.state.members.size });
      this.controls.render();
    });
  }

  /**
   * sendReceiveVideo tells the server what we show, when it changes: whose
   * camera we pin (lastN forwards it on top of the last speakers'), and
   * how tall each remote video is shown (it forwards the layer that fills
   * the tile, and nothing of a video on another page).
   */
  sendReceiveVideo() {
    /** @type {Partial<import('../lib/conference.js').ReceiveVideo>} */
    const want = {};
    const pinned = pinnedStreams(this.state);
    if (pinned.join(' ') !== this.pinsSent) {
      this.pinsSent = pinned.join(' ');
      want.pinned = pinned;
    }
    const heights = this.stage.videoHeights(this.state);
    const key = heights ? JSON.stringify(Object.entries(heights).sort()) : this.heightsSent;
    if (heights && key !== this.heightsSent) {
      this.heightsSent = key;
      want.heights = heights;
    }
    if (want.pinned || want.heights) this.call.setReceiveVideo(want);
  }

  renderPager() {
    const pager = byId('pager');
    pager.hidden = this.stage.pages <= 1;
    byId('page-label').textContent = t('call.page', { page: this.stage.page + 1, pages: this.stage.pages });
    byId('page-prev', HTMLButtonElement).disabled = this.stage.page === 0;
    byId('page-next', HTMLButtonElement).disabled = this.stage.page >= this.stage.pages - 1;
  }

  /** @param {number} delta */
  turnPage(delta) {
    this.stage.page = Math.max(0, Math.min(this.stage.pages - 1, this.stage.page + delta));
    this.stage.layout(this.state);
  }

  /** @param {string} key */
  togglePin(key) {
    this.state.pinned = this.state.pinned === key ? null : key;
    if (this.state.pinned) this.state.layout = 'speaker';
    this.render();
  }

  /** showStatus puts the call's phase in words, and the banner up while the connection is lost. */
  showStatus() {
    const s = this.call.status;
    /** @type {Record<string, string>} */
    const media = { idle: 'status.waiting', negotiating: 'status.negotiating', connecting: 'status.mediaConnecting', connected: 'status.connected', disconnected: 'status.interrupted', failed: 'status.mediaFailed', ended: 'status.ended' };
    /** @type {Record<string, string>} */
    const phase = { connecting: 'status.connecting', joining: 'status.joining', reconnecting: 'status.reconnecting', failed: 'status.failed', left: 'status.ended' };
    const key = s.phase === 'in-call' ? media[s.media] : phase[s.phase];
    const el = byId('call-state');
    el.textContent = t(key ?? 'status.connecting');
    el.classList.toggle('bad', s.bad);
    const lost = s.phase === 'reconnecting' || (s.phase === 'in-call' && (s.media === 'disconnected' || s.media === 'failed'));
    const banner = byId('banner');
    banner.hidden = !lost;
    banner.textContent = lost ? t(s.phase === 'reconnecting' ? 'banner.reconnecting' : 'banner.media') : '';
  }

  /**
   * play starts a media element; when the browser wants a click first
   * (autoplay with sound), the status line offers one.
   * @param {HTMLMediaElement} el
   */
  play(el) {
    el.play().catch((err) => {
      if (err && err.name === 'NotAllowedError') this.askForSound();
    });
  }

  askForSound() {
    if (document.getElementById('enable-sound')) return;
    const btn = h('button', { id: 'enable-sound', type: 'button', 'data-i18n': 'call.enableSound', 'aria-label': t('call.enableSound') }, [t('call.enableSound')]);
    btn.addEventListener('click', () => {
      for (const a of this.audio.values()) a.play().catch(() => {});
      btn.remove();
    });
    byId('call-state').after(btn);
  }

  /** @param {string} id */
  setSpeaker(id) {
    this.speaker = id;
    prefs.setDevices({ speaker: id });
    for (const a of this.audio.values()) if ('setSinkId' in a) /** @type {any} */ (a).setSinkId(id).catch(() => {});
  }

  download() {
    downloadDebug(this);
  }

  /** close stops what the view runs, leaving the page to another screen. */
  close() {
    this.active = false;
    this.abort.abort();
    this.resized.disconnect();
    this.monitor.stop();
    this.controls.unwire();
    this.selfMeter?.stop();
    this.extras?.dispose();
    this.lobby?.close();
    this.access?.close();
    this.invite?.close();
    for (const a of this.audio.values()) a.srcObject = null;
    this.audioSink.remove();
    for (const key of [...this.stage.tiles.keys()]) this.stage.remove(key);
  }

  /**
   * ended shows the screen for why the call is over, with a rejoin button.
   * @param {string} reason the library's words (kept for the debug file)
   * @param {EndKind} kind
   * @param {boolean} [explained] reason is already in the user's language
   * @param {string} [titleKey] a title other than the kind's
   */
  ended(reason, kind, explained = false, titleKey = '') {
    if (!this.active) return;
    this.close();
    this.controls.stopShare();
    stopAll(this.media.stream);
    this.hook.pc = null;
    show('left');
    /** @type {Record<EndKind, [string, string]>} */
    const words = {
      left: ['left.leftTitle', 'left.leftText'],
      kicked: ['left.kickedTitle', 'left.kickedText'],
      banned: ['left.bannedTitle', 'left.bannedText'],
      destroyed: ['left.endedTitle', 'left.endedText'],
      removed: ['left.removedTitle', 'left.removedText'],
      lost: ['left.lostTitle', 'left.lostText'],
    };
    const [title, text] = words[kind];
    const why = this.removedWhy;
    if (kind === 'destroyed' && why?.ended) {
      // Someone ended the meeting for all: say who, and why if they said.
      const by = why.by ? t('left.endedBy', { name: this.nameOf(why.by) }) : t('left.endedByServer');
      reason = why.text ? `${by} ${t('left.endedReason', { reason: why.text })}` : by;
      explained = true;
    }
    // A room that went with its meeting is not there to rejoin; home starts a new one.
    const gone = kind === 'destroyed' && Boolean(why?.ended) && !this.roomStays;
    byId('left-title').textContent = t(titleKey || title);
    byId('left-reason').textContent = explained ? reason : t(text);
    byId('left').dataset.kind = kind;
    const rejoin = byId('rejoin', HTMLButtonElement);
    rejoin.hidden = gone;
    rejoin.onclick = () => location.reload();
    applyTranslations(byId('left'));
    if (gone) byId('left-home').focus();
    else rejoin.focus();
  }
}
