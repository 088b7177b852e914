// @ts-check
/**
 * The moderator's side of parley's lobby (docs/SIGNALLING.md §9), and
 * ending a meeting for all (§10). The newcomer's side is in muc.js: a Room
 * whose join knocks emits 'waiting' and its join() settles when a moderator
 * decides.
 *
 * No DOM access.
 */
import { Emitter } from './emitter.js';
import { iq } from './xmpp.js';
import { NS } from './muc.js';
import { x, attr, child, children } from './xml.js';

/** @typedef {import('./xml.js').El} El */
/** @typedef {import('./xmpp.js').XmppClient} XmppClient */

/**
 * @typedef {object} Knock someone waiting in the lobby
 * @property {string} id the knock's id, for admit and deny
 * @property {string} nick the nick it asked for
 * @property {string} name the name to show: a token's verified name, else the nick
 * @property {string} jid its real JID
 * @property {'account'|'guest'|'token'|'unknown'} kind how it logged in
 * @property {Date|null} since when it knocked
 */

/**
 * @typedef {object} Decision
 * @property {string} id the knock's id
 * @property {string} nick
 * @property {'admitted'|'denied'|'left'} outcome left: it gave up waiting
 * @property {string} by the deciding moderator's nick ('' for the admin API or the server)
 */

/**
 * @typedef {object} Events
 * @property {[k: Knock]} knock someone knocks (also, on arrival, everyone already waiting)
 * @property {[d: Decision]} decided a knock was decided or withdrawn; it is gone from knocks
 */

/**
 * parseKnock reads a <knock/> message from the room; null for anything else.
 * @param {El} st
 * @returns {Knock|null}
 */
export function parseKnock(st) {
  const k = child(st, 'knock', NS.lobby);
  if (!k) return null;
  const kind = attr(k, 'kind');
  const since = new Date(attr(k, 'since') ?? '');
  return {
    id: attr(k, 'id') ?? '',
    nick: attr(k, 'nick') ?? '',
    name: attr(k, 'name') || attr(k, 'nick') || '',
    jid: attr(k, 'jid') ?? '',
    kind: kind === 'account' || kind === 'guest' || kind === 'token' ? kind : 'unknown',
    since: isNaN(since.getTime()) ? null : since,
  };
}

/**
 * parseDecision reads a <decided/> message; null for anything else.
 * @param {El} st
 * @returns {Decision|null}
 */
export function parseDecision(st) {
  const d = child(st, 'decided', NS.lobby);
  if (!d) return null;
  const outcome = attr(d, 'outcome');
  if (outcome !== 'admitted' && outcome !== 'denied' && outcome !== 'left') return null;
  return { id: attr(d, 'id') ?? '', nick: attr(d, 'nick') ?? '', outcome, by: attr(d, 'by') ?? '' };
}

/**
 * Lobby is a moderator's view of one room's lobby: who knocks, and the
 * admit and deny requests. The room sends knocks only to occupants with
 * the admit_lobby permission, so others simply see none. @extends {Emitter<Events>}
 */
export class Lobby extends Emitter {
  /**
   * @param {XmppClient} client
   * @param {string} room the room's bare JID
   */
  constructor(client, room) {
    super();
    this.client = client;
    this.room = room.toLowerCase();
    /** @type {Map<string, Knock>} waiting now, by id, in arrival order */
    this.knocks = new Map();
    this.off = client.on('message', (st) => this.onMessage(st));
    // After a drop the room resends the knocks when we are back in.
    this.offOffline = client.on('offline', () => this.knocks.clear());
  }

  /** @param {El} st */
  onMessage(st) {
    if ((attr(st, 'from') ?? '').toLowerCase() !== this.room) return;
    const k = parseKnock(st);
    if (k) {
      this.knocks.set(k.id, k);
      this.emit('knock', k);
      return;
    }
    const d = parseDecision(st);
    if (d) {
      this.knocks.delete(d.id);
      this.emit('decided', d);
    }
  }

  /**
   * admit lets the knock in. Rejects with a StanzaError: forbidden without
   * the permission, item-not-found if nobody waits with that id.
   * @param {string} id
   */
  async admit(id) {
    await this.client.request(iq('set', this.room, x('admit', { xmlns: NS.lobby, id })));
  }

  /**
   * deny turns the knock away; the newcomer's join fails with not-allowed
   * and the reason.
   * @param {string} id
   * @param {string} [reason]
   */
  async deny(id, reason) {
    await this.client.request(iq('set', this.room, x('deny', { xmlns: NS.lobby, id }, reason ? [x('reason', {}, [reason])] : [])));
  }

  /** close stops listening. */
  close() {
    this.off();
    this.offOffline();
  }
}

/**
 * endMeeting removes everyone from the room, each told the reason (needs
 * the end_meeting permission; rejects with forbidden otherwise). A
 * declared room stays, empty. Occupants see their Room emit 'removed' with
 * {kind: 'destroyed', ended: true, by, text}.
 * @param {XmppClient} client
 * @param {string} room the room's bare JID
 * @param {string} [reason]
 */
export async function endMeeting(client, room, reason) {
  await client.request(iq('set', room, x('end', { xmlns: NS.room }, reason ? [x('reason', {}, [reason])] : [])));
}


/**
 * @typedef {object} RoomSwitches what a moderator may change in the room's form
 * @property {boolean} lobby newcomers wait in the lobby
 * @property {boolean} guests guests may enter
 * @property {number} lastN every participant receives the camera of at most this many
 *   recent speakers (plus the ones it pins); 0: no cap of the room's own
 */

/**
 * setRoomSwitches turns the room's lobby and guest access on or off, and
 * sets its lastN, through the XEP-0045 configuration form (parley#lobby,
 * parley#guests, parley#last-n); fields left undefined stay as they are.
 * Needs the lock_room permission (forbidden otherwise). Turning the lobby
 * off lets everyone waiting in.
 * @param {XmppClient} client
 * @param {string} room the room's bare JID
 * @param {Partial<RoomSwitches>} switches
 */
export async function setRoomSwitches(client, room, switches) {
  /** @type {El[]} */
  const fields = [x('field', { var: 'FORM_TYPE' }, [x('value', {}, ['http://jabber.org/protocol/muc#roomconfig'])])];
  if (switches.lobby !== undefined) fields.push(x('field', { var: 'parley#lobby' }, [x('value', {}, [switches.lobby ? '1' : '0'])]));
  if (switches.guests !== undefined) fields.push(x('field', { var: 'parley#guests' }, [x('value', {}, [switches.guests ? '1' : '0'])]));
  if (switches.lastN !== undefined) fields.push(x('field', { var: 'parley#last-n' }, [x('value', {}, [String(Math.max(0, Math.round(switches.lastN)))])]));
  await client.request(iq('set', room, x('query', { xmlns: NS.owner }, [x('x', { xmlns: NS.data, type: 'submit' }, fields)])));
}

/**
 * getRoomSwitches reads whether the room's lobby is on, whether guests
 * may enter and its lastN, from its XEP-0045 configuration form. Needs
 * lock_room, as setRoomSwitches does (forbidden otherwise).
 * @param {XmppClient} client
 * @param {string} room the room's bare JID
 * @returns {Promise<RoomSwitches>}
 */
export async function getRoomSwitches(client, room) {
  const res = await client.request(iq('get', room, x('query', { xmlns: NS.owner })));
  const form = child(child(res, 'query', NS.owner), 'x', NS.data);
  /** @param {string} name */
  const value = (name) => {
    const field = form ? children(form, 'field', NS.data).find((f) => attr(f, 'var') === name) : undefined;
    return field ? child(field, 'value', NS.data)?.text.trim() ?? '' : '';
  };
  /** @param {string} name */
  const flag = (name) => value(name) === '1' || value(name) === 'true';
  const lastN = Number.parseInt(value('parley#last-n'), 10);
  return { lobby: flag('parley#lobby'), guests: flag('parley#guests'), lastN: Number.isFinite(lastN) && lastN > 0 ? lastN : 0 };
}
