// @ts-check
/**
 * Room access, in the people panel: the switches for the room's lobby and
 * for guest access (docs/SIGNALLING.md §9), and its lastN (how many of the
 * latest speakers' cameras everyone receives, §3b'), shown only to whoever
 * the room grants lock_room. The room checks again; this only reads and submits its
 * configuration form.
 */
import { byId } from './dom.js';
import { t } from './i18n.js';
import { getRoomSwitches, setRoomSwitches } from '../lib/lobby.js';

/** @typedef {import('../lib/xmpp.js').XmppClient} XmppClient */
/** @typedef {import('./callstate.js').Member} Member */

/**
 * @typedef {object} RoomAccessConfig
 * @property {XmppClient} client
 * @property {string} room the room's bare JID
 * @property {(text: string, bad?: boolean) => void} say a line in the chat
 */

export class RoomAccess {
  /** @param {RoomAccessConfig} cfg */
  constructor(cfg) {
    this.cfg = cfg; // immutable
    this.box = byId('room-access');
    this.lobby = byId('access-lobby', HTMLInputElement);
    this.guests = byId('access-guests', HTMLInputElement);
    this.lastN = byId('access-lastn', HTMLSelectElement);
    this.lastNShown = 0; // the lastN the room last said or accepted: a refused change goes back to it
    this.allowed = false; // we hold lock_room, as the room last said
    this.loaded = false; // the switches show the room's configuration
    this.wasOpen = false; // the people panel was open at the last render
    this.abort = new AbortController(); // ends the listeners: the elements outlive this room
    const signal = this.abort.signal;
    this.lobby.addEventListener('change', () => this.submit({ lobby: this.lobby.checked }), { signal });
    this.guests.addEventListener('change', () => this.submit({ guests: this.guests.checked }), { signal });
    this.lastN.addEventListener('change', () => this.submit({ lastN: Number(this.lastN.value) }), { signal });
    this.box.hidden = true;
  }

  /**
   * render shows the switches to whoever may change them, reading the
   * room's configuration when they appear and each time the panel opens.
   * @param {Member|undefined} me
   * @param {boolean} panelOpen
   */
  render(me, panelOpen) {
    const allowed = Boolean(me?.permissions.includes('lock_room'));
    this.box.hidden = !allowed;
    if (allowed && panelOpen && (!this.loaded || !this.allowed || !this.wasOpen)) this.refresh();
    this.allowed = allowed;
    this.wasOpen = panelOpen;
  }

  /** refresh reads the room's switches. */
  async refresh() {
    this.loaded = true;
    this.setBusy(true);
    try {
      const s = await getRoomSwitches(this.cfg.client, this.cfg.room);
      this.lobby.checked = s.lobby;
      this.guests.checked = s.guests;
      this.showLastN(s.lastN);
    } catch (err) {
      this.loaded = false;
      this.cfg.say(t('access.readFailed', { detail: err instanceof Error ? err.message : String(err) }), true);
    } finally {
      this.setBusy(false);
    }
  }

  /**
   * submit changes one switch; when the room refuses, the switch goes back.
   * @param {Partial<import('../lib/lobby.js').RoomSwitches>} change
   */
  async submit(change) {
    this.setBusy(true);
    try {
      await setRoomSwitches(this.cfg.client, this.cfg.room, change);
      if (change.lobby !== undefined) this.cfg.say(t(change.lobby ? 'access.lobbyOn' : 'access.lobbyOff'));
      if (change.guests !== undefined) this.cfg.say(t(change.guests ? 'access.guestsOn' : 'access.guestsOff'));
      if (change.lastN !== undefined) {
        this.lastNShown = change.lastN;
        this.cfg.say(change.lastN > 0 ? t('access.lastNSet', { count: change.lastN }) : t('access.lastNOff'));
      }
    } catch (err) {
      if (change.lobby !== undefined) this.lobby.checked = !change.lobby;
      if (change.guests !== undefined) this.guests.checked = !change.guests;
      if (change.lastN !== undefined) this.showLastN(this.lastNShown);
      this.cfg.say(t('moderation.refused', { detail: err instanceof Error ? err.message : String(err) }), true);
    } finally {
      this.setBusy(false);
    }
  }

  /** @param {boolean} busy */
  setBusy(busy) {
    this.box.setAttribute('aria-busy', String(busy));
    this.lobby.disabled = busy;
    this.guests.disabled = busy;
    this.lastN.disabled = busy;
  }

  /**
   * showLastN selects the room's lastN, adding it to the choices if the
   * room was set to another number (by another client, or the form).
   * @param {number} n
   */
  showLastN(n) {
    this.lastNShown = n;
    const v = String(n);
    if (![...this.lastN.options].some((o) => o.value === v)) {
      const after = [...this.lastN.options].find((o) => Number(o.value) > n);
      this.lastN.insertBefore(new Option(v, v), after ?? null);
    }
    this.lastN.value = v;
  }

  close() {
    this.abort.abort();
    this.box.hidden = true;
  }
}
