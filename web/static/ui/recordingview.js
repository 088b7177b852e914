// @ts-check
/**
 * Recording as the call screen shows it (docs/SIGNALLING.md §14): a
 * "Recording" badge in the call bar for everyone while a recorder is in
 * the room, and a Record / Stop recording button for whoever holds the
 * record permission (the room checks it again: the button only spares a
 * refusal), with the list of the room's recordings (recordingsdialog.js).
 */
import { recordingsIn, startRecording, stopRecording } from '../lib/recording.js';
import { byId, h } from './dom.js';
import { t } from './i18n.js';
import { setIcon } from './icons.js';
import { RecordingsDialog } from './recordingsdialog.js';

/** @typedef {import('../lib/xmpp.js').XmppClient} XmppClient */
/** @typedef {import('../lib/muc.js').Room} Room */

/**
 * @typedef {object} Config
 * @property {XmppClient} client Required.
 * @property {Room} room Required.
 * @property {(text: string, bad?: boolean) => void} say a line in the chat log. Required.
 */

export class RecordingControl {
  /** @param {Config} cfg */
  constructor(cfg) {
    this.cfg = cfg; // immutable
    this.badge = document.getElementById('recording-badge') ?? h('span', { id: 'recording-badge', class: 'recording-badge', role: 'status', hidden: '' });
    if (!this.badge.isConnected) byId('call-state').before(this.badge);
    this.button = document.getElementById('toggle-record') ?? h('button', { id: 'toggle-record', type: 'button', class: 'ctl', hidden: '' }, [h('span', { class: 'ctl-label' })]);
    if (!this.button.isConnected) byId('leave').before(this.button);
    setIcon(this.button, 'record');
    this.button.onclick = () => this.toggle();
    /** @type {string[]} the recordings running, as the room last said */
    this.running = [];
    /** the list of the room's recordings, for those who may record */
    this.files = new RecordingsDialog({ client: cfg.client, room: cfg.room });
    const update = () => this.render();
    this.offs = [cfg.room.on('joined', update), cfg.room.on('changed', update), cfg.room.on('left', update)];
    this.render();
  }

  render() {
    const { room } = this.cfg;
    const was = this.running.length > 0;
    this.running = recordingsIn(room.occupants.values());
    const on = this.running.length > 0;
    this.badge.hidden = !on;
    this.badge.textContent = on ? t('recording.on') : '';
    if (on !== was) this.cfg.say(t(on ? 'recording.started' : 'recording.stopped'));
    const may = room.self?.permissions.includes('record') ?? false;
    this.button.hidden = !may;
    this.button.setAttribute('aria-pressed', String(on));
    this.button.setAttribute('aria-label', t(on ? 'recording.stop' : 'recording.start'));
    const label = this.button.querySelector('.ctl-label');
    if (label) label.textContent = t(on ? 'recording.stopShort' : 'recording.startShort');
    this.files.render();
  }

  async toggle() {
    const { client, room } = this.cfg;
    try {
      if (this.running.length > 0) await stopRecording(client, room.jid);
      else await startRecording(client, room.jid);
    } catch (err) {
      this.cfg.say(t('recording.failed', { error: String(/** @type {Error} */ (err).message ?? err) }), true);
    }
  }

  close() {
    for (const off of this.offs) off();
    this.badge.hidden = true;
    this.button.hidden = true;
    this.files.hide();
  }
}
