// @ts-check
/**
 * The lobby as the call screen shows it (docs/SIGNALLING.md §9). A
 * moderator (who holds admit_lobby: the room sends knocks to no one else)
 * sees who knocks in the people panel, with Admit and Deny and an optional
 * reason, and a notice over the call for each new knock. A newcomer held in
 * the lobby sees the waiting screen, with a cancel.
 */
import { Lobby } from '../lib/lobby.js';
import { byId, h } from './dom.js';
import { t } from './i18n.js';

/** @typedef {import('../lib/lobby.js').Knock} Knock */
/** @typedef {import('../lib/xmpp.js').XmppClient} XmppClient */

/**
 * @typedef {object} Config
 * @property {XmppClient} client Required.
 * @property {string} room the room's bare JID. Required.
 * @property {(text: string, bad?: boolean) => void} say a line in the chat log. Required.
 */

export class LobbyPanel {
  /** @param {Config} cfg */
  constructor(cfg) {
    this.cfg = cfg; // immutable
    this.lobby = new Lobby(cfg.client, cfg.room);
    /** @type {string} the knock the notice shows, '' when hidden */
    this.noticeFor = '';
    /** @type {Map<string, string>} the names of knocks, by id, to say who was decided */
    this.names = new Map();
    this.lobby.on('knock', (k) => {
      this.names.set(k.id, k.name);
      this.render();
      this.notice(k);
    });
    this.lobby.on('decided', (d) => {
      const name = this.names.get(d.id) ?? d.nick;
      this.names.delete(d.id);
      /** @type {Record<string, string>} */
      const said = { admitted: 'lobby.admitted', denied: 'lobby.denied', left: 'lobby.gaveUp' };
      cfg.say(t(said[d.outcome], { name }));
      if (this.noticeFor === d.id) this.hideNotice();
      this.render();
    });
    this.render();
  }

  /**
   * decide admits or denies a knock; the reason typed in the panel goes
   * with a denial.
   * @param {Knock} k
   * @param {boolean} admit
   */
  async decide(k, admit) {
    const reasonInput = byId('lobby-reason', HTMLInputElement);
    try {
      if (admit) await this.lobby.admit(k.id);
      else await this.lobby.deny(k.id, reasonInput.value.trim() || undefined);
      if (!admit) reasonInput.value = '';
    } catch (err) {
      this.cfg.say(t('moderation.refused', { detail: err instanceof Error ? err.message : String(err) }), true);
    }
  }

  /** render lists the knocks in the people panel, or hides the section when none wait. */
  render() {
    const knocks = [...this.lobby.knocks.values()];
    byId('lobby-box').hidden = knocks.length === 0;
    byId('lobby-title').textContent = t('lobby.title', { count: knocks.length });
    byId('lobby-list').replaceChildren(...knocks.map((k) => {
      const admit = h('button', { type: 'button', class: 'small primary act-admit', 'aria-label': t('lobby.admitNamed', { name: k.name }) }, [t('lobby.admit')]);
      const deny = h('button', { type: 'button', class: 'small act-deny', 'aria-label': t('lobby.denyNamed', { name: k.name }) }, [t('lobby.deny')]);
      admit.addEventListener('click', () => this.decide(k, true));
      deny.addEventListener('click', () => this.decide(k, false));
      return h('li', { 'data-knock': k.id }, [
        h('span', { class: 'who' }, [h('span', { class: 'pname' }, [k.name])]),
        h('span', { class: 'actions' }, [admit, deny]),
      ]);
    }));
  }

  /** @param {Knock} k */
  notice(k) {
    this.noticeFor = k.id;
    byId('knock-notice').hidden = false;
    byId('knock-notice-text').textContent = t('lobby.knocks', { name: k.name });
    byId('knock-notice-admit', HTMLButtonElement).onclick = () => {
      this.hideNotice();
      this.decide(k, true);
    };
    byId('knock-notice-later', HTMLButtonElement).onclick = () => this.hideNotice();
  }

  hideNotice() {
    this.noticeFor = '';
    byId('knock-notice').hidden = true;
  }

  /** close stops listening and clears what it showed. */
  close() {
    this.lobby.close();
    this.hideNotice();
    byId('lobby-box').hidden = true;
    byId('lobby-list').replaceChildren();
  }
}

/**
 * showWaiting shows the screen of a newcomer held in the lobby.
 * @param {string} room the room's name, as the user knows it
 * @param {() => void} onCancel the user gives up waiting
 */
export function showWaiting(room, onCancel) {
  byId('lobby-room').textContent = room;
  const cancel = byId('lobby-cancel', HTMLButtonElement);
  cancel.onclick = onCancel;
  cancel.focus();
}
