// @ts-check
/**
 * The chat panel: messages to everyone and private ones, links made
 * clickable as text nodes and checked anchors, unread count, and a line
 * when a message could not be sent.
 */
import { byId, h } from './dom.js';
import { t, formatTime, language } from './i18n.js';
import { linkify } from './links.js';

/**
 * @typedef {object} ChatHooks
 * @property {(body: string) => string} sayAll sends to everyone; returns the id; throws when offline
 * @property {(nick: string, body: string) => string} sayPrivate
 * @property {(nick: string) => string} nameOf
 * @property {() => boolean} isOpen whether the panel is showing
 * @property {(n: number) => void} onUnread the unread count changed
 */

export class ChatPanel {
  /**
   * @param {ChatHooks} hooks
   * @param {AbortSignal} signal ends the form's listener
   */
  constructor(hooks, signal) {
    this.hooks = hooks; // immutable
    this.log = byId('chat-log');
    this.to = byId('chat-to', HTMLSelectElement);
    this.input = byId('chat-input', HTMLInputElement);
    this.unread = 0;
    this.recipients = ''; // the list setRecipients last showed
    /** @type {Map<string, string>} what we sent, by id, until the room reflects or bounces it */
    this.pending = new Map();
    byId('chat-form', HTMLFormElement).addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.send();
    }, { signal });
  }

  send() {
    const body = this.input.value.trim();
    if (!body) return;
    const to = this.to.value;
    try {
      const id = to ? this.hooks.sayPrivate(to, body) : this.hooks.sayAll(body);
      this.input.value = '';
      this.pending.set(id, body);
      if (to) this.add({ from: '', to, body, self: true, private: true });
    } catch {
      this.system(t('chat.notSentOffline'), true);
    }
  }

  /**
   * setRecipients lists who a message can go to.
   * @param {{nick: string, name: string}[]} others
   */
  setRecipients(others) {
    // Rebuilt only when someone came, went or was renamed: not under the user's hand.
    const signature = JSON.stringify([language(), others]);
    if (signature === this.recipients) return;
    this.recipients = signature;
    const current = this.to.value;
    const opts = [h('option', { value: '' }, [t('chat.everyone')]), ...others.map((o) => h('option', { value: o.nick }, [t('chat.privateTo', { name: o.name })]))];
    this.to.replaceChildren(...opts);
    this.to.value = others.some((o) => o.nick === current) ? current : '';
  }

  /**
   * add shows a message.
   * @param {{from: string, to?: string, body: string, self: boolean, private?: boolean, when?: Date|null, id?: string}} m
   */
  add(m) {
    if (m.id && m.self) this.pending.delete(m.id);
    const who = m.self ? t('chat.you') : (this.hooks.nameOf(m.from) || t('chat.room'));
    const head = m.private
      ? (m.self ? t('chat.youTo', { name: this.hooks.nameOf(m.to ?? '') }) : t('chat.privateFrom', { name: who }))
      : who;
    const time = h('time', { class: 'when' }, [formatTime(m.when ?? new Date(), Boolean(m.when))]);
    const li = h('li', { class: m.private ? 'private' : '' }, [h('span', { class: 'from' }, [head]), time, h('span', { class: 'body' }, linkify(m.body))]);
    this.log.append(li);
    li.scrollIntoView({ block: 'end' });
    if (!m.self && !this.hooks.isOpen()) {
      this.unread++;
      this.hooks.onUnread(this.unread);
    }
  }

  /**
   * failed says that the room bounced a message.
   * @param {string} id
   * @param {string} condition
   */
  failed(id, condition) {
    const body = this.pending.get(id);
    this.pending.delete(id);
    this.system(t('chat.notSent', { text: body ?? '', why: condition }), true);
  }

  /**
   * system adds a line from parley itself.
   * @param {string} text
   * @param {boolean} [bad]
   */
  system(text, bad = false) {
    const li = h('li', { class: bad ? 'system bad' : 'system' }, [text]);
    this.log.append(li);
    li.scrollIntoView({ block: 'end' });
  }

  read() {
    this.unread = 0;
    this.hooks.onUnread(0);
  }
}
