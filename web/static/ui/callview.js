// @ts-check
/**
 * The call screen: video grid, own view, mic and camera toggles, chat,
 * participant list and connection state. It drives a Call (lib/call.js) and
 * exposes window.parley for tests.
 */
import { Call } from '../lib/call.js';
import { byId, show, h } from './dom.js';
import { stopAll } from './media.js';

/** @typedef {import('./media.js').LocalMedia} LocalMedia */
/** @typedef {import('../lib/call.js').Participant} Participant */
/** @typedef {import('../lib/conference.js').RemoteTrack} RemoteTrack */

/**
 * @typedef {object} Tile
 * @property {HTMLElement} el
 * @property {HTMLVideoElement} video
 * @property {HTMLAudioElement} audio
 * @property {HTMLElement} name
 * @property {HTMLElement} avatar
 */

/**
 * @typedef {object} TestHook what browser tests read (window.parley)
 * @property {RTCPeerConnection|null} pc the current peer connection
 * @property {Map<string, {displayName: string, tracks: MediaStreamTrack[], receivers: RTCRtpReceiver[]}>} participants
 *   remote participants by nick, with their live tracks
 * @property {{phase: string, media: string, text: string}} status
 * @property {Call} call
 * @property {{t: number, type: string, nick: string, kind?: string}[]} events track and people events, in order
 * @property {string[]} statusLog every status text shown, in order (the last 100)
 */

/**
 * startCall shows the call screen and joins.
 * @param {{room: string, name: string, media: LocalMedia}} opts
 */
export function startCall({ room, name, media }) {
  show('call');
  byId('call-room').textContent = room;
  const view = new CallView(room, name, media);
  view.start();
}

class CallView {
  /**
   * @param {string} room
   * @param {string} name
   * @param {LocalMedia} media
   */
  constructor(room, name, media) {
    this.room = room; // immutable
    this.media = media; // local tracks; owned by this view
    /** @type {Map<string, Tile>} tiles by nick; '' is our own */
    this.tiles = new Map();
    this.grid = byId('grid');
    this.people = byId('people');
    this.chatLog = byId('chat-log');
    this.state = byId('call-state');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const params = new URLSearchParams(location.search);
    // ?ice=relay forces media through TURN; ?turn=tcp,tls keeps only those
    // TURN transports. Both are for debugging a network (and for tests).
    const turn = params.get('turn');
    const turnTransports = turn ? /** @type {import('../lib/extdisco.js').TurnTransport[]} */ (turn.split(',').filter((t) => ['udp', 'tcp', 'tls'].includes(t))) : null;
    this.call = new Call({
      url: `${scheme}//${location.host}/xmpp-websocket`,
      domain: location.hostname,
      room,
      nick: name,
      displayName: name,
      localTracks: () => ({ audio: media.stream.getAudioTracks()[0] ?? null, video: media.stream.getVideoTracks()[0] ?? null }),
      icePolicy: params.get('ice') === 'relay' ? 'relay' : 'all',
      turnTransports,
    });
    // A new network (Wi-Fi to mobile, a VPN coming up) needs new ICE candidates.
    window.addEventListener('online', () => this.call.restartIce('the network changed'));
    if (params.get('debug') === '1') {
      this.call.client.on('traffic', (dir, xml) => console.debug(`xmpp ${dir}: ${xml}`));
    }
    /** @type {TestHook} */
    this.hook = { pc: null, participants: new Map(), status: this.call.status, call: this.call, events: [], statusLog: [] };
    /** @type {any} */ (window).parley = this.hook;
  }

  start() {
    this.addSelfTile();
    this.wireControls();
    this.wireCall();
    for (const p of this.media.problems) this.systemLine(p);
    this.call.start().catch(() => {
      // the status line already says what went wrong
    });
  }

  addSelfTile() {
    const tile = this.makeTile('', 'You');
    tile.el.classList.add('self');
    tile.video.srcObject = this.media.stream;
    tile.avatar.hidden = this.media.stream.getVideoTracks().length > 0;
    this.play(tile.video);
  }

  wireCall() {
    const c = this.call;
    c.on('status', (s) => {
      this.hook.status = s;
      if (this.hook.statusLog.at(-1) !== s.text) this.hook.statusLog.push(s.text);
      if (this.hook.statusLog.length > 100) this.hook.statusLog.shift();
      this.state.textContent = s.text;
      this.state.classList.toggle('bad', s.bad);
    });
    c.on('participant', (p) => {
      if (p.self) return;
      this.tileFor(p).name.textContent = p.displayName;
      this.hookEntry(p);
      this.renderPeople();
      this.log('joined', p.nick);
    });
    c.on('participantLeft', (p) => {
      this.tiles.get(p.nick)?.el.remove();
      this.tiles.delete(p.nick);
      this.hook.participants.delete(p.nick);
      this.layout();
      this.renderPeople();
      this.log('left', p.nick);
    });
    c.on('trackAdded', (p, t) => this.onTrackAdded(p, t));
    c.on('trackRemoved', (p, t) => this.onTrackRemoved(p, t));
    c.on('peerConnection', (pc) => {
      this.hook.pc = pc;
    });
    c.on('message', (m) => {
      const from = this.call.participants.get(m.nick)?.displayName ?? m.nick;
      const li = h('li', {}, [h('span', { class: 'from' }, [m.self ? 'You' : from || 'Room']), m.body]);
      if (m.delayed) li.title = `sent ${m.delayed.toLocaleString()}`;
      this.chatLog.append(li);
      li.scrollIntoView({ block: 'end' });
    });
    c.on('ended', (reason) => this.ended(reason));
  }

  /**
   * @param {Participant} p
   * @param {RemoteTrack} t
   */
  onTrackAdded(p, t) {
    const tile = this.tileFor(p);
    const stream = new MediaStream([t.track]);
    if (t.kind === 'video') {
      tile.video.srcObject = stream;
      tile.avatar.hidden = true;
      this.play(tile.video);
    } else {
      tile.audio.srcObject = stream;
      this.play(tile.audio);
    }
    this.hookEntry(p);
    this.log('track-added', p.nick, t.kind);
  }

  /**
   * @param {Participant} p
   * @param {RemoteTrack} t
   */
  onTrackRemoved(p, t) {
    const tile = this.tiles.get(p.nick);
    if (tile) {
      const el = t.kind === 'video' ? tile.video : tile.audio;
      const s = el.srcObject;
      if (s instanceof MediaStream && s.getTracks().includes(t.track)) {
        el.srcObject = null;
        if (t.kind === 'video') tile.avatar.hidden = false;
      }
    }
    if (this.call.participants.has(p.nick)) this.hookEntry(p);
    this.log('track-removed', p.nick, t.kind);
  }

  /** @param {Participant} p */
  hookEntry(p) {
    const tracks = [...p.tracks.values()];
    this.hook.participants.set(p.nick, {
      displayName: p.displayName,
      tracks: tracks.map((t) => t.track),
      receivers: tracks.map((t) => t.receiver),
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

  /** @param {Participant} p */
  tileFor(p) {
    return this.tiles.get(p.nick) ?? this.makeTile(p.nick, p.displayName);
  }

  /**
   * @param {string} nick
   * @param {string} label
   * @returns {Tile}
   */
  makeTile(nick, label) {
    const video = h('video', { autoplay: '', playsinline: '' });
    video.muted = true; // sound plays through the audio element, which may need a click
    const audio = h('audio', { autoplay: '' });
    const name = h('span', { class: 'name' }, [label]);
    const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' }, [(label.trim()[0] ?? '?').toUpperCase()]);
    const el = h('div', { class: 'tile', 'data-nick': nick }, [avatar, video, audio, name]);
    const tile = { el, video, audio, name, avatar };
    this.tiles.set(nick, tile);
    this.grid.append(el);
    this.layout();
    return tile;
  }

  /** layout picks the number of grid columns for the number of tiles. */
  layout() {
    const n = Math.max(1, this.tiles.size);
    const wide = this.grid.clientWidth >= this.grid.clientHeight;
    const cols = wide ? Math.ceil(Math.sqrt(n)) : Math.ceil(n / Math.ceil(Math.sqrt(n)));
    this.grid.style.setProperty('--cols', String(cols));
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
    const btn = h('button', { id: 'enable-sound', type: 'button' }, ['Turn on sound']);
    btn.addEventListener('click', () => {
      for (const t of this.tiles.values()) t.audio.play().catch(() => {});
      btn.remove();
    });
    byId('call-state').after(btn);
  }

  renderPeople() {
    const list = [...this.call.participants.values()].sort((a, b) => Number(b.self) - Number(a.self) || a.displayName.localeCompare(b.displayName));
    this.people.replaceChildren(...list.map((p) => h('li', { 'data-nick': p.nick }, [p.self ? `${p.displayName} (you)` : p.displayName])));
    byId('people-count').textContent = `(${list.length})`;
  }

  wireControls() {
    const mic = byId('toggle-mic', HTMLButtonElement);
    const cam = byId('toggle-camera', HTMLButtonElement);
    const side = byId('toggle-side', HTMLButtonElement);
    const audio = this.media.stream.getAudioTracks()[0];
    const video = this.media.stream.getVideoTracks()[0];
    mic.disabled = !audio;
    cam.disabled = !video;
    if (!audio) mic.textContent = 'No microphone';
    if (!video) cam.textContent = 'No camera';
    mic.addEventListener('click', () => {
      if (!audio) return;
      audio.enabled = !audio.enabled;
      mic.setAttribute('aria-pressed', String(!audio.enabled));
      mic.classList.toggle('off', !audio.enabled);
      mic.textContent = audio.enabled ? 'Mute mic' : 'Unmute mic';
    });
    cam.addEventListener('click', () => {
      if (!video) return;
      video.enabled = !video.enabled;
      cam.setAttribute('aria-pressed', String(!video.enabled));
      cam.classList.toggle('off', !video.enabled);
      cam.textContent = video.enabled ? 'Stop camera' : 'Start camera';
      const self = this.tiles.get('');
      if (self) self.avatar.hidden = video.enabled;
    });
    side.addEventListener('click', () => {
      const aside = byId('side');
      aside.hidden = !aside.hidden;
      side.setAttribute('aria-pressed', String(!aside.hidden));
    });
    byId('leave', HTMLButtonElement).addEventListener('click', () => this.call.leave());
    const form = byId('chat-form', HTMLFormElement);
    const input = byId('chat-input', HTMLInputElement);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      try {
        this.call.say(text);
        input.value = '';
      } catch {
        this.systemLine('The message could not be sent: not connected.');
      }
    });
    window.addEventListener('pagehide', () => {
      this.call.leave();
    });
    window.addEventListener('resize', () => this.layout());
  }

  /** @param {string} text */
  systemLine(text) {
    this.chatLog.append(h('li', { class: 'system' }, [text]));
  }

  /** @param {string} reason */
  ended(reason) {
    stopAll(this.media.stream);
    for (const t of this.tiles.values()) {
      t.video.srcObject = null;
      t.audio.srcObject = null;
    }
    this.hook.pc = null;
    show('left');
    byId('left-reason').textContent = reason;
    byId('rejoin-link', HTMLAnchorElement).href = location.pathname;
  }
}
