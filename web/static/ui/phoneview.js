// @ts-check
/**
 * The invite dialog (docs/SIGNALLING.md §16): the meeting's link; with a
 * SIP gateway, the number phones call and the room's PIN; and, for whoever
 * holds dial_out, a form that calls a phone into the meeting and says how
 * it went (answered, busy, no answer, declined). The room checks dial_out
 * again: the form only spares a refusal.
 */
import { dialIn, dialOut, DialError } from '../lib/phone.js';
import { byId, h } from './dom.js';
import { t } from './i18n.js';
import { setIcon } from './icons.js';

/** @typedef {import('../lib/xmpp.js').XmppClient} XmppClient */
/** @typedef {import('../lib/muc.js').Room} Room */

/**
 * @typedef {object} Config
 * @property {XmppClient} client Required.
 * @property {Room} room Required.
 * @property {string} link the meeting's address to share. Required.
 * @property {(text: string, bad?: boolean) => void} say a line in the chat log. Required.
 */

export class InviteControl {
  /** @param {Config} cfg */
  constructor(cfg) {
    this.cfg = cfg; // immutable
    /** @type {import('../lib/phone.js').DialIn|null|undefined} the room's, once read; null: no SIP gateway */
    this.dialIn = undefined;
    this.button = document.getElementById('open-invite') ?? h('button', { id: 'open-invite', type: 'button', class: 'ctl' }, [h('span', { class: 'ctl-label' })]);
    if (!this.button.isConnected) byId('toggle-people').before(this.button);
    setIcon(this.button, 'invite');
    this.button.hidden = false;
    this.button.onclick = () => this.open();
    this.dialog = this.build();
    const update = () => this.render();
    this.offs = [cfg.room.on('joined', update), cfg.room.on('changed', update)];
    this.render();
  }

  /** build makes the dialog, replacing one an earlier call left (its handlers served that call). */
  build() {
    document.getElementById('invite')?.remove();
    const link = h('input', { id: 'invite-link', readonly: '', autocomplete: 'off' });
    const copy = h('button', { id: 'invite-copy', type: 'button' });
    copy.onclick = () => this.copy();
    const phone = h('section', { id: 'invite-phone', class: 'stack-inner', hidden: '' }, [
      h('h3', { id: 'invite-phone-title' }),
      h('p', { id: 'invite-phone-how' }),
      h('p', { class: 'row' }, [h('span', { id: 'invite-pin-label' }), ' ', h('strong', { id: 'invite-pin' })]),
    ]);
    const to = h('input', { id: 'dial-to', type: 'text', inputmode: 'tel', maxlength: '200', autocomplete: 'off' });
    const call = h('button', { id: 'dial-call', type: 'submit', class: 'primary' });
    const form = h('form', { id: 'dial-form', class: 'stack-inner' }, [
      h('label', { for: 'dial-to', id: 'dial-to-label' }), to, h('p', { class: 'row' }, [call]),
    ]);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.dial(to.value.trim());
    });
    const dial = h('section', { id: 'invite-dial', class: 'stack-inner', hidden: '' }, [
      h('h3', { id: 'invite-dial-title' }), form, h('p', { id: 'dial-status', role: 'status', 'aria-live': 'polite' }),
    ]);
    const close = h('button', { id: 'invite-close', type: 'submit', value: 'close' });
    const dialog = h('dialog', { id: 'invite', class: 'dialog', 'aria-labelledby': 'invite-title' }, [
      h('div', { class: 'stack' }, [
        h('h2', { id: 'invite-title' }), h('label', { for: 'invite-link', id: 'invite-link-label' }), link,
        h('p', { class: 'row' }, [copy]), phone, dial,
        h('form', { method: 'dialog' }, [h('p', { class: 'row' }, [close])]),
      ]),
    ]);
    document.body.append(dialog);
    return dialog;
  }

  /** open shows the dialog, reading the dial-in PIN the first time. */
  async open() {
    this.render();
    if (!this.dialog.open) this.dialog.showModal();
    if (this.dialIn !== undefined) return;
    try {
      this.dialIn = await dialIn(this.cfg.client, this.cfg.room.jid);
    } catch (err) {
      console.warn('parley: the dial-in PIN could not be read', err);
      this.dialIn = null;
    }
    this.render();
  }

  render() {
    const { room } = this.cfg;
    const label = t('invite.open');
    this.button.setAttribute('aria-label', label);
    this.button.title = label;
    const short = this.button.querySelector('.ctl-label');
    if (short) short.textContent = t('invite.short');
    const text = (/** @type {string} */ id, /** @type {string} */ s) => {
      byId(id).textContent = s;
    };
    text('invite-title', t('invite.title'));
    text('invite-link-label', t('invite.link'));
    byId('invite-link', HTMLInputElement).value = this.cfg.link;
    text('invite-copy', t('invite.copy'));
    text('invite-close', t('invite.close'));
    const d = this.dialIn;
    byId('invite-phone').hidden = !d;
    if (d) {
      text('invite-phone-title', t('invite.phoneTitle'));
      text('invite-phone-how', d.number ? t('invite.phoneHow', { number: d.number }) : t('invite.phoneHowNoNumber'));
      text('invite-pin-label', t('invite.pin'));
      text('invite-pin', d.pin);
    }
    // Dialling out needs the gateway (a PIN came back) and dial_out.
    const may = room.self?.permissions.includes('dial_out') ?? false;
    byId('invite-dial').hidden = !d || !may;
    text('invite-dial-title', t('invite.dialTitle'));
    text('dial-to-label', t('invite.dialTo'));
    text('dial-call', t('invite.dialCall'));
  }

  async copy() {
    const input = byId('invite-link', HTMLInputElement);
    try {
      await navigator.clipboard.writeText(input.value);
      this.status(t('invite.copied'));
    } catch {
      input.select(); // the user copies it themselves
    }
  }

  /**
   * dial calls to into the meeting; the outcome goes to the dialog's status
   * line and the chat log (the dialog may be closed by then).
   * @param {string} to
   */
  async dial(to) {
    if (!to) return;
    const { client, room } = this.cfg;
    this.status(t('dial.calling', { to }));
    byId('dial-status').classList.remove('error');
    try {
      const nick = await dialOut(client, room.jid, to);
      this.report(t('dial.joined', { name: nick || to }), false);
    } catch (err) {
      this.report(dialMessage(err, to), true);
    }
  }

  /** @param {string} text */
  status(text) {
    byId('dial-status').textContent = text;
  }

  /** @param {string} text @param {boolean} bad */
  report(text, bad) {
    this.status(text);
    byId('dial-status').classList.toggle('error', bad);
    this.cfg.say(text, bad);
  }

  close() {
    for (const off of this.offs) off();
    if (this.dialog.open) this.dialog.close();
    this.button.hidden = true;
  }
}

/**
 * dialMessage says why a dial-out failed, in the user's language.
 * @param {unknown} err
 * @param {string} to
 */
export function dialMessage(err, to) {
  if (!(err instanceof DialError)) return t('dial.failed', { to, detail: err instanceof Error ? err.message : String(err) });
  switch (err.reason) {
    case 'busy': return t('dial.busy', { to });
    case 'no-answer': return t('dial.noAnswer', { to });
    case 'rejected': return t('dial.rejected', { to });
    case 'forbidden': return t('dial.forbidden');
    case 'unavailable': return t('dial.unavailable');
  }
  return t('dial.failed', { to, detail: err.message });
}
