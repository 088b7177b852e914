// @ts-check
/**
 * The room's recordings (docs/SIGNALLING.md §14), for whoever holds the
 * record permission: a button in the call bar opens a dialog listing them,
 * each with a download link per file and a Remove button. The room checks
 * the permission on every request and signs each link itself: the button
 * only spares a refusal.
 */
import { listRecordings, removeRecording } from '../lib/recording.js';
import { byId, h } from './dom.js';
import { t, language, formatTime, onLanguageChange } from './i18n.js';
import { setIcon } from './icons.js';

/** @typedef {import('../lib/xmpp.js').XmppClient} XmppClient */
/** @typedef {import('../lib/muc.js').Room} Room */
/** @typedef {import('../lib/recording.js').RecordingEntry} RecordingEntry */
/** @typedef {import('../lib/recording.js').RecordingFile} RecordingFile */

/**
 * @typedef {object} Config
 * @property {XmppClient} client Required.
 * @property {Room} room Required.
 */

export class RecordingsDialog {
  /** @param {Config} cfg */
  constructor(cfg) {
    this.cfg = cfg; // immutable
    this.button = document.getElementById('show-recordings') ?? h('button', { id: 'show-recordings', type: 'button', class: 'round small', hidden: '' });
    if (!this.button.isConnected) byId('layout-toggle').before(this.button);
    setIcon(this.button, 'record');
    this.button.onclick = () => this.open();
    this.title = h('h2', { id: 'recordings-title' });
    this.status = h('p', { id: 'recordings-status', role: 'status', 'aria-live': 'polite' });
    this.list = h('ul', { id: 'recordings-list', class: 'recordings' });
    this.close = h('button', { type: 'submit', class: 'primary' });
    this.dialog = /** @type {HTMLDialogElement} */ (document.getElementById('recordings') ?? h('dialog', { id: 'recordings', class: 'dialog', 'aria-labelledby': 'recordings-title' }));
    this.dialog.replaceChildren(h('form', { method: 'dialog', class: 'stack' }, [this.title, this.status, this.list, this.close]));
    if (!this.dialog.isConnected) document.body.append(this.dialog);
    this.offLanguage = onLanguageChange(() => this.render());
    this.render();
  }

  /** render shows the button to those who may record, in the current language. */
  render() {
    const may = this.cfg.room.self?.permissions.includes('record') ?? false;
    this.button.hidden = !may;
    this.button.setAttribute('aria-label', t('recording.list'));
    this.button.title = t('recording.list');
    this.title.textContent = t('recording.listTitle');
    this.close.textContent = t('recording.close');
    if (!may && this.dialog.open) this.dialog.close();
  }

  async open() {
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  async refresh() {
    const { client, room } = this.cfg;
    this.status.textContent = t('recording.loading');
    /** @type {RecordingEntry[]} */
    let entries;
    try {
      entries = await listRecordings(client, room.jid);
    } catch (err) {
      this.list.replaceChildren();
      this.status.textContent = t('recording.listFailed', { error: errorText(err) });
      return;
    }
    this.status.textContent = entries.length === 0 ? t('recording.listEmpty') : '';
    this.list.replaceChildren(...entries.slice().reverse().map((e) => this.item(e)));
  }

  /** @param {RecordingEntry} e */
  item(e) {
    const when = e.started ? formatTime(e.started, true) : e.id;
    const state = e.state === 'recording' ? t('recording.stateRunning')
      : e.state === 'failed' ? t('recording.stateFailed', { reason: e.reason }) : t('recording.stateStopped');
    const head = h('p', { class: 'rec-head' }, [h('strong', {}, [when]), ' — ', state, e.by ? ` — ${t('recording.by', { who: e.by })}` : '']);
    const files = h('ul', { class: 'rec-files' }, e.files.map((f) => h('li', {}, [
      h('a', { href: f.url, download: f.name }, [fileLabel(f)]),
      f.bytes ? ` (${size(f.bytes)})` : '',
    ])));
    const remove = h('button', { type: 'button', class: 'rec-remove', 'aria-label': t('recording.removeLabel', { when }) }, [t('recording.remove')]);
    remove.disabled = e.state === 'recording';
    let sure = false;
    remove.onclick = async () => {
      if (!sure) { // a second click confirms: a removal cannot be undone
        sure = true;
        remove.textContent = t('recording.removeSure');
        return;
      }
      remove.disabled = true;
      try {
        await removeRecording(this.cfg.client, this.cfg.room.jid, e.id);
      } catch (err) {
        this.status.textContent = t('recording.removeFailed', { error: errorText(err) });
        remove.disabled = false;
        return;
      }
      await this.refresh();
    };
    return h('li', { 'data-id': e.id }, [head, files, remove]);
  }

  /** hide closes the dialog and hides the button, for good (the call ended). */
  hide() {
    this.offLanguage();
    if (this.dialog.open) this.dialog.close();
    this.button.hidden = true;
  }
}

/** @param {RecordingFile} f */
function fileLabel(f) {
  switch (f.kind) {
    case 'audio': return t('recording.fileAudio', { nick: f.nick });
    case 'video': return t('recording.fileVideo', { nick: f.nick });
    case 'composite': return t('recording.fileComposite');
    case 'manifest': return t('recording.fileManifest');
    default: return f.name;
  }
}

/** @param {number} bytes */
function size(bytes) {
  const mb = bytes / 1e6;
  return new Intl.NumberFormat(language(), { style: 'unit', unit: mb >= 1 ? 'megabyte' : 'kilobyte', maximumFractionDigits: 1 })
    .format(mb >= 1 ? mb : bytes / 1e3);
}

/** @param {unknown} err */
function errorText(err) {
  const e = /** @type {{condition?: string, message?: string}} */ (err);
  return String(e?.message ?? e?.condition ?? err);
}
