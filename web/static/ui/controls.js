// @ts-check
/**
 * The call's controls: the buttons of the bar, the keyboard shortcuts,
 * screen sharing, the raised hand, reactions, the side panels, settings,
 * device switching, and the moderator actions of the people panel.
 */
import { byId, h } from './dom.js';
import { t } from './i18n.js';
import { setIcon } from './icons.js';
import { REACTIONS } from '../lib/roomextras.js';
import { openTrack, explain } from './media.js';
import { prefs } from './prefs.js';
import { wireSettings } from './settings.js';

/** @typedef {import('../lib/roomextras.js').MemberState} MemberState */
/** @typedef {import('./callstate.js').Member} Member */

/**
 * @typedef {object} View what the controls need of the call view (callview.js)
 * @property {import('./callstate.js').CallState} state
 * @property {import('../lib/call.js').Call} call
 * @property {import('../lib/roomextras.js').RoomExtras|null} extras
 * @property {{stream: MediaStream, videoOff?: boolean}} media
 * @property {import('./chat.js').ChatPanel} chat
 * @property {string} speaker
 * @property {() => void} render
 * @property {(delta: number) => void} turnPage
 * @property {(id: string) => void} setSpeaker
 * @property {() => void} download
 * @property {(reason: string) => Promise<void>} endForAll
 */

/** Keys that do something in the call, for the shortcut list and the handler. */
const SHORTCUTS = new Set(['m', 'v', 's', 'r', 'l', 'c', 'p', '?', ' ']);

export class Controls {
  /** @param {View} view */
  constructor(view) {
    this.view = view; // immutable
    /** @type {MemberState} what we publish */
    this.own = {
      audio: view.media.stream.getAudioTracks()[0] ? (view.media.stream.getAudioTracks()[0].enabled ? 'on' : 'muted') : 'none',
      video: view.media.stream.getVideoTracks()[0] ? (view.media.stream.getVideoTracks()[0].enabled ? 'on' : 'off') : view.media.videoOff ? 'off' : 'none',
      hand: null,
      screen: false,
    };
    /** @type {MediaStream|null} our camera, for our own tile */
    this.camera = view.media.stream.getVideoTracks()[0] ? new MediaStream(view.media.stream.getVideoTracks()) : null;
    /** @type {MediaStream|null} the screen we share */
    this.screen = null;
    this.pushToTalk = false; // Space is held while muted
    this.mutedAtServer = false; // a moderator muted our audio: the SFU forwards none until we unmute
    this.videoMutedAtServer = false; // a moderator stopped our camera: the same for video
    this.cameraTurns = 0; // setCamera calls: an opening camera that a later call overtook is closed
    /** ends every listener wire() added: the page's elements outlive this call */
    this.abort = new AbortController();
  }

  ownState() {
    return { ...this.own };
  }

  selfCamera() {
    return this.camera;
  }

  screenStream() {
    return this.screen;
  }

  /** publish sends our state and shows it on our own tile. @param {Partial<MemberState>} s */
  publish(s) {
    this.own = { ...this.own, ...s };
    try {
      this.view.extras?.publish(this.own);
    } catch (err) {
      console.warn('parley: could not publish our state', err);
    }
    const me = [...this.view.state.members.values()].find((m) => m.self);
    if (me) {
      me.state = this.ownState();
      me.camera = this.camera;
      me.screen = this.screen;
    }
    this.view.render();
  }

  wire() {
    const signal = this.abort.signal;
    /** @param {string} id @param {() => void} fn */
    const on = (id, fn) => byId(id).addEventListener('click', fn, { signal });
    on('toggle-mic', () => this.toggleMic());
    on('toggle-camera', () => this.toggleCamera());
    on('toggle-share', () => this.toggleShare());
    on('toggle-hand', () => this.toggleHand());
    on('open-reactions', () => this.toggleReactions());
    on('toggle-chat', () => this.togglePanel('chat'));
    on('toggle-people', () => this.togglePanel('people'));
    on('layout-toggle', () => this.toggleLayout());
    on('page-prev', () => this.view.turnPage(-1));
    on('page-next', () => this.view.turnPage(1));
    on('leave', () => this.view.call.leave());
    const confirmEnd = byId('end-confirm', HTMLDialogElement);
    on('end-meeting', () => {
      confirmEnd.returnValue = '';
      confirmEnd.showModal();
    });
    confirmEnd.addEventListener('close', () => {
      const reason = byId('end-reason', HTMLInputElement);
      if (confirmEnd.returnValue === 'end') this.view.endForAll(reason.value.trim());
      reason.value = '';
    }, { signal });
    on('muted-notice-close', () => {
      byId('muted-notice').hidden = true;
    });
    const menu = byId('reactions-menu');
    menu.replaceChildren(...REACTIONS.map((e) => {
      const b = h('button', { type: 'button', role: 'menuitem', class: 'reaction-btn', 'data-emoji': e }, [e]);
      b.addEventListener('click', () => {
        this.react(e);
        this.toggleReactions(false);
      }, { signal });
      return b;
    }));
    this.openSettings = wireSettings({
      current: () => ({
        camera: this.view.media.stream.getVideoTracks()[0]?.getSettings().deviceId ?? prefs.devices().camera ?? '',
        mic: this.view.media.stream.getAudioTracks()[0]?.getSettings().deviceId ?? '',
        speaker: this.view.speaker,
        name: this.view.call.cfg.displayName ?? '',
      }),
      onDevice: (kind, id) => this.switchDevice(kind, id),
      onName: (name) => prefs.setName(name),
      quality: () => prefs.quality(),
      onQuality: (q) => {
        prefs.setQuality(q);
        this.view.call.setReceiveVideo({ quality: q });
      },
      sendQuality: () => prefs.sendQuality(),
      onSendQuality: (q) => {
        prefs.setSendQuality(q);
        this.view.call.setSendQuality(q);
      },
      fill: () => this.view.state.fill,
      onFill: (on) => {
        this.view.state.fill = on;
        this.view.render();
      },
      onDebug: () => this.view.download(),
      onShortcuts: () => byId('shortcuts', HTMLDialogElement).showModal(),
      unnamed: (kind, i) => t(kind === 'camera' ? 'devices.cameraN' : kind === 'mic' ? 'devices.micN' : 'devices.speakerN', { n: i }),
      none: (kind) => t(kind === 'camera' ? 'devices.noCamera' : kind === 'mic' ? 'devices.noMic' : 'devices.noSpeaker'),
    }, signal);
    on('open-settings', () => this.openSettings?.());
    const down = (/** @type {KeyboardEvent} */ ev) => this.onKey(ev, true);
    const up = (/** @type {KeyboardEvent} */ ev) => this.onKey(ev, false);
    const leave = () => this.view.call.leave();
    document.addEventListener('keydown', down, { signal });
    document.addEventListener('keyup', up, { signal });
    window.addEventListener('pagehide', leave, { signal });
    this.render();
  }

  unwire() {
    this.abort.abort();
  }

  /**
   * onKey runs the shortcuts, except while typing or in a dialog.
   * @param {KeyboardEvent} ev
   * @param {boolean} down
   */
  onKey(ev, down) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const target = /** @type {HTMLElement|null} */ (ev.target);
    if (target && (target.closest('input, textarea, select, dialog') || target.isContentEditable)) return;
    const key = ev.key.toLowerCase();
    if (!SHORTCUTS.has(key)) return;
    if (key === ' ') {
      // Push-to-talk only while muted; Space on a focused button clicks it instead.
      if (target instanceof HTMLButtonElement) return;
      ev.preventDefault();
      if (down && !ev.repeat && this.own.audio === 'muted') {
        this.pushToTalk = true;
        this.setMic(true);
      } else if (!down && this.pushToTalk) {
        this.pushToTalk = false;
        this.setMic(false);
      }
      return;
    }
    if (!down || ev.repeat) return;
    ev.preventDefault();
    switch (key) {
      case 'm': this.toggleMic(); break;
      case 'v': this.toggleCamera(); break;
      case 's': this.toggleShare(); break;
      case 'r': this.toggleHand(); break;
      case 'l': this.toggleLayout(); break;
      case 'c': this.togglePanel('chat'); break;
      case 'p': this.togglePanel('people'); break;
      case '?': byId('shortcuts', HTMLDialogElement).showModal(); break;
    }
  }

  toggleMic() {
    this.setMic(this.own.audio === 'muted');
  }

  /**
   * setMic turns our microphone on or off. After a moderator's mute the
   * room must lift it first (we need publish_audio), or the others would
   * still hear nothing.
   * @param {boolean} on
   */
  async setMic(on) {
    const track = this.view.media.stream.getAudioTracks()[0];
    if (!track) return;
    if (on && this.mutedAtServer) {
      try {
        await this.view.call.room?.unmute(['audio']);
        this.mutedAtServer = false;
        byId('muted-notice').hidden = true;
      } catch (err) {
        this.view.chat.system(t('moderation.cannotUnmute', { detail: err instanceof Error ? err.message : String(err) }), true);
        return;
      }
    }
    track.enabled = on;
    this.publish({ audio: on ? 'on' : 'muted' });
  }

  /**
   * onServerMute follows the room's word on our mutes: a moderator muted
   * our audio (the SFU already stopped forwarding it), so the microphone
   * goes off here too and we say who did it.
   * @param {string[]} muted what the room says is muted
   * @param {string} by the moderator's name, '' if the room did not say
   */
  onServerMute(muted, by) {
    const video = muted.includes('video');
    if (video !== this.videoMutedAtServer) {
      this.videoMutedAtServer = video;
      if (video) {
        if (this.own.video === 'on') this.setCamera(false);
        this.notice(by ? t('moderation.cameraOffBy', { name: by }) : t('moderation.cameraOffByModerator'));
      }
    }
    const now = muted.includes('audio');
    if (now === this.mutedAtServer) return;
    this.mutedAtServer = now;
    if (!now) {
      if (!this.videoMutedAtServer) byId('muted-notice').hidden = true;
      return;
    }
    const track = this.view.media.stream.getAudioTracks()[0];
    if (track) track.enabled = false;
    if (this.own.audio === 'on') this.publish({ audio: 'muted' });
    this.notice(by ? t('moderation.mutedBy', { name: by }) : t('moderation.mutedByModerator'));
  }

  /** notice shows what a moderator did to us, and puts it in the chat. @param {string} text */
  notice(text) {
    byId('muted-notice-text').textContent = text;
    byId('muted-notice').hidden = false;
    this.view.chat.system(text);
  }

  /**
   * onUnmuteAsked shows a moderator's request to unmute, when we are muted.
   * @param {string} name who asks
   */
  onUnmuteAsked(name) {
    if (this.own.audio === 'muted') this.askToUnmute(name);
  }

  toggleCamera() {
    this.setCamera(this.own.video !== 'on');
  }

  /**
   * setCamera turns our camera on or off. Off closes it, so that its light
   * goes off, and we send no video; on opens it again (the browser may ask).
   * After a moderator stopped our camera the room must lift that first.
   * @param {boolean} on
   */
  async setCamera(on) {
    const stream = this.view.media.stream;
    if (this.own.video === 'none') return;
    const turn = ++this.cameraTurns;
    if (!on) {
      this.camera = null;
      for (const tr of stream.getVideoTracks()) {
        stream.removeTrack(tr);
        tr.stop();
      }
      this.publish({ video: 'off' });
      await this.view.call.refreshLocalTracks();
      return;
    }
    if (this.own.video === 'on') return;
    if (this.videoMutedAtServer) {
      try {
        await this.view.call.room?.unmute(['video']);
        this.videoMutedAtServer = false;
        if (!this.mutedAtServer) byId('muted-notice').hidden = true;
      } catch (err) {
        this.view.chat.system(t('moderation.cannotUnmute', { detail: err instanceof Error ? err.message : String(err) }), true);
        return;
      }
    }
    let track;
    try {
      track = await openTrack('camera', prefs.devices().camera ?? '').catch(() => openTrack('camera', ''));
    } catch (err) {
      if (turn === this.cameraTurns) this.view.chat.system(explain(err, 'camera'), true);
      return;
    }
    if (turn !== this.cameraTurns || this.videoMutedAtServer || this.abort.signal.aborted) {
      track.stop(); // turned off or on again meanwhile, stopped by a moderator, or the call is over
      return;
    }
    stream.addTrack(track);
    this.camera = new MediaStream([track]);
    await this.view.call.refreshLocalTracks();
    this.publish({ video: 'on' });
  }

  toggleHand() {
    this.publish({ hand: this.own.hand === null ? Date.now() : null });
  }

  /** @param {string} emoji */
  react(emoji) {
    try {
      this.view.extras?.react(emoji);
    } catch {
      this.view.chat.system(t('chat.notSentOffline'), true);
    }
  }

  /** @param {boolean} [open] */
  toggleReactions(open) {
    const menu = byId('reactions-menu');
    const show = open ?? menu.hidden;
    menu.hidden = !show;
    byId('open-reactions').setAttribute('aria-expanded', String(show));
    if (show) /** @type {HTMLElement|null} */ (menu.querySelector('button'))?.focus();
  }

  /** @param {'chat'|'people'} panel */
  togglePanel(panel) {
    const s = this.view.state;
    s.panel = s.panel === panel ? null : panel;
    if (s.panel === 'chat') this.view.chat.read();
    this.view.render();
    if (s.panel === 'chat') byId('chat-input').focus();
  }

  toggleLayout() {
    const s = this.view.state;
    s.layout = s.layout === 'tile' ? 'speaker' : 'tile';
    if (s.layout === 'tile') s.pinned = null;
    this.view.render();
  }

  async toggleShare() {
    if (this.screen) {
      this.stopShare();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch (err) {
      if (err instanceof Error && err.name !== 'NotAllowedError') this.view.chat.system(t('share.failed'), true);
      return;
    }
    const track = stream.getVideoTracks()[0];
    if (!track) return;
    // The browser's own "stop sharing" ends the track (the library then
    // withdraws it and says screenShareEnded, which also lands in stopShare).
    track.addEventListener('ended', () => {
      if (this.screen === stream) this.stopShare();
    });
    this.screen = stream;
    this.publish({ screen: true });
    await this.sendScreen(track);
  }

  stopShare() {
    if (!this.screen) return;
    for (const tr of this.screen.getTracks()) tr.stop();
    this.screen = null;
    this.sendScreen(null);
    this.publish({ screen: false });
  }

  /**
   * sendScreen puts a screen track on the wire as our second video, or
   * takes it off.
   * @param {MediaStreamTrack|null} track
   */
  async sendScreen(track) {
    try {
      if (track) await this.view.call.shareScreen(track);
      else if (this.view.call.screenTrack) await this.view.call.stopScreenShare();
    } catch (err) {
      console.warn('parley: screen share failed', err);
      this.view.chat.system(t('share.failed'), true);
    }
  }

  /**
   * switchDevice changes camera, microphone or speaker during the call.
   * @param {'camera'|'mic'|'speaker'} kind
   * @param {string} id
   */
  async switchDevice(kind, id) {
    if (kind === 'speaker') {
      this.view.setSpeaker(id);
      return;
    }
    prefs.setDevices(kind === 'camera' ? { camera: id } : { mic: id });
    if (kind === 'camera' && this.own.video !== 'on') return; // used when the camera is turned on
    const stream = this.view.media.stream;
    let track;
    try {
      track = await openTrack(kind, id);
    } catch {
      this.view.chat.system(t(kind === 'camera' ? 'media.cameraFailed' : 'media.micFailed', { detail: id }), true);
      return;
    }
    // Read after the wait: another switch may have replaced the track meanwhile.
    const old = kind === 'camera' ? stream.getVideoTracks()[0] : stream.getAudioTracks()[0];
    if (old) {
      track.enabled = old.enabled;
      stream.removeTrack(old);
      old.stop();
    }
    stream.addTrack(track);
    if (kind === 'camera') this.camera = new MediaStream([track]);
    await this.view.call.refreshLocalTracks();
    this.publish({});
  }

  /**
   * onRequest follows a moderator's request (RoomExtras checked the role).
   * @param {string} from
   * @param {string} action
   */
  onRequest(from, action) {
    const name = this.view.state.members.get(from)?.displayName ?? from;
    if (action === 'mute' && this.own.audio === 'on') {
      this.setMic(false);
      this.view.chat.system(t('moderation.mutedBy', { name }));
    }
    if (action === 'unmute' && this.own.audio === 'muted') this.askToUnmute(name);
    if (action === 'lower-hand' && this.own.hand !== null) {
      this.publish({ hand: null });
      this.view.chat.system(t('moderation.handLoweredBy', { name }));
    }
  }

  /**
   * askToUnmute shows a moderator's request to speak; only the person
   * unmutes, never the request by itself.
   * @param {string} name who asks
   */
  askToUnmute(name) {
    const box = byId('unmute-ask');
    byId('unmute-ask-text').textContent = t('moderation.askUnmute', { name });
    box.hidden = false;
    const yes = byId('unmute-ask-yes', HTMLButtonElement);
    yes.onclick = () => {
      box.hidden = true;
      this.setMic(true);
    };
    byId('unmute-ask-no', HTMLButtonElement).onclick = () => {
      box.hidden = true;
    };
    yes.focus();
  }

  /**
   * moderate runs a moderator action from the people panel; the room
   * checks each against our permissions.
   * @param {import('./people.js').Action} action
   * @param {Member} m
   */
  async moderate(action, m) {
    const room = this.view.call.room;
    try {
      // Through the room: the SFU stops forwarding at once (mute_others),
      // and the person is asked, never forced, to speak again (ask_unmute).
      if (action === 'mute') await room?.mute(m.nick, ['audio']);
      if (action === 'muteVideo') await room?.mute(m.nick, ['video']);
      if (action === 'askUnmute') await room?.unmute(['audio'], m.nick);
      if (action === 'lowerHand') this.view.extras?.ask(m.nick, 'lower-hand');
      if (action === 'promote') await room?.setRole(m.nick, 'moderator');
      if (action === 'kick') await room?.kick(m.nick);
    } catch (err) {
      this.view.chat.system(t('moderation.refused', { detail: err instanceof Error ? err.message : String(err) }), true);
    }
  }

  /** @param {number} n */
  setUnread(n) {
    const badge = byId('chat-unread');
    badge.hidden = n === 0;
    badge.textContent = String(n);
    this.render();
  }

  /** render brings the buttons' state, icons and names up to date. */
  render() {
    const s = this.view.state;
    const unread = Number(byId('chat-unread').textContent) || 0;
    /**
     * @param {string} id
     * @param {boolean} pressed
     * @param {string} iconName
     * @param {string} label the accessible name and tooltip
     * @param {string} short the visible label
     * @param {boolean} [disabled]
     */
    const set = (id, pressed, iconName, label, short, disabled = false) => {
      const b = byId(id, HTMLButtonElement);
      b.setAttribute('aria-pressed', String(pressed));
      b.setAttribute('aria-label', label);
      b.title = label;
      b.disabled = disabled;
      setIcon(b, iconName);
      const span = b.querySelector('.ctl-label');
      if (span) span.textContent = short;
    };
    const a = this.own.audio;
    const v = this.own.video;
    set('toggle-mic', a === 'muted', a === 'on' ? 'mic' : 'micOff', t(a === 'none' ? 'controls.noMic' : a === 'on' ? 'controls.micOff' : 'controls.micOn'), t(a === 'none' ? 'controls.noMic' : a === 'on' ? 'controls.micShort' : 'controls.micShortOff'), a === 'none');
    set('toggle-camera', v === 'off', v === 'on' ? 'camera' : 'cameraOff', t(v === 'none' ? 'controls.noCamera' : v === 'on' ? 'controls.cameraOff' : 'controls.cameraOn'), t('controls.cameraShort'), v === 'none');
    const canShare = Boolean(navigator.mediaDevices && 'getDisplayMedia' in navigator.mediaDevices);
    set('toggle-share', Boolean(this.screen), 'screen', t(this.screen ? 'controls.shareStop' : 'controls.share'), t('controls.shareShort'), !canShare);
    set('toggle-hand', this.own.hand !== null, 'hand', t(this.own.hand === null ? 'controls.handRaise' : 'controls.handLower'), t('controls.handShort'));
    set('toggle-chat', s.panel === 'chat', 'chat', unread ? t('controls.chatUnread', { count: unread }) : t('controls.chat'), t('controls.chatShort'));
    set('toggle-people', s.panel === 'people', 'people', t('controls.people'), t('controls.peopleShort'));
    const layout = byId('layout-toggle', HTMLButtonElement);
    const layoutLabel = t(s.layout === 'tile' ? 'controls.layoutSpeaker' : 'controls.layoutTile');
    layout.setAttribute('aria-label', layoutLabel);
    layout.title = layoutLabel;
    const me = [...s.members.values()].find((m) => m.self);
    byId('end-meeting').hidden = !me?.permissions.includes('end_meeting');
    byId('side').hidden = s.panel === null;
    byId('people-panel').hidden = s.panel !== 'people';
    byId('chat-panel').hidden = s.panel !== 'chat';
    for (const b of byId('reactions-menu').querySelectorAll('button')) {
      const label = t('reactions.send', { emoji: b.getAttribute('data-emoji') ?? '' });
      b.setAttribute('aria-label', label);
      b.title = label;
    }
  }
}
