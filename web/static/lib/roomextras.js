// @ts-check
/**
 * What a meeting room adds to plain MUC, as stanzas any XMPP client (the Go
 * SDK too) can read; docs/SIGNALLING.md describes them:
 *
 *   - each occupant's media and hand state, as a presence extension
 *     <state xmlns="urn:parley:room:1" audio="on|muted|none"
 *            video="on|off|none" hand="MS-SINCE-EPOCH"? screen="1"?/>
 *     so that late joiners see it (the room keeps each occupant's last
 *     presence);
 *   - reactions, as a groupchat message with no body:
 *     <reaction xmlns="urn:parley:room:1">👍</reaction>;
 *   - private chat, as XEP-0045 private messages (type chat to room/nick);
 *   - a moderator's requests to one occupant (mute, unmute, lower-hand), as a
 *     private message <request xmlns="urn:parley:room:1" action="mute"/>,
 *     honoured only when the room says the sender is a moderator.
 *
 * Messages we send carry an id; an error bounce with that id is reported
 * (sendFailed), so the UI can say a message did not go out.
 *
 * No DOM access.
 */
import { Emitter } from './emitter.js';
import { NS as XNS } from './xmpp.js';
import { NS as MUC } from './muc.js';
import { x, attr, ns, child, textOf } from './xml.js';

/** @typedef {import('./xml.js').El} El */
/** @typedef {import('./xmpp.js').XmppClient} XmppClient */
/** @typedef {import('./muc.js').Room} Room */

export const NS_ROOM = 'urn:parley:room:1';

/** The reactions a client sends and shows; anything else is dropped. */
export const REACTIONS = Object.freeze(['👍', '👏', '😂', '😮', '❤️', '🎉']);

/** The requests a moderator may send to one occupant. */
export const REQUESTS = Object.freeze(['mute', 'unmute', 'lower-hand']);

/**
 * @typedef {object} MemberState
 * @property {'on'|'muted'|'none'} audio
 * @property {'on'|'off'|'none'} video
 * @property {number|null} hand when the hand went up (ms since the epoch), or null
 * @property {boolean} screen whether a screen is shared
 */

/** @type {MemberState} what an occupant without the extension is taken to be */
export const UNKNOWN_STATE = Object.freeze({ audio: 'on', video: 'on', hand: null, screen: false });

/**
 * stateElement writes a member state as the presence extension.
 * @param {MemberState} s
 * @returns {El}
 */
export function stateElement(s) {
  /** @type {Record<string, string>} */
  const a = { xmlns: NS_ROOM, audio: s.audio, video: s.video };
  if (s.hand !== null) a.hand = String(Math.trunc(s.hand));
  if (s.screen) a.screen = '1';
  return x('state', a);
}

/**
 * readState finds the state extension among presence children; absent or
 * malformed parts take UNKNOWN_STATE's values.
 * @param {El[]} payload
 * @returns {MemberState}
 */
export function readState(payload) {
  const el = payload.find((k) => k.name === 'state' && ns(k) === NS_ROOM);
  if (!el) return { ...UNKNOWN_STATE };
  const audio = attr(el, 'audio');
  const video = attr(el, 'video');
  const hand = Number(attr(el, 'hand'));
  return {
    audio: audio === 'muted' || audio === 'none' ? audio : 'on',
    video: video === 'off' || video === 'none' ? video : 'on',
    hand: attr(el, 'hand') && Number.isFinite(hand) && hand > 0 ? hand : null,
    screen: attr(el, 'screen') === '1',
  };
}

/**
 * @typedef {object} PrivateMessage
 * @property {string} id
 * @property {string} nick the other side (sender, or recipient when self)
 * @property {string} body
 * @property {boolean} self whether we sent it
 */

/**
 * @typedef {object} Events
 * @property {[nick: string, emoji: string]} reaction
 * @property {[m: PrivateMessage]} private a private message from an occupant
 * @property {[from: string, action: string]} request a moderator asks us to do something
 * @property {[id: string, condition: string]} sendFailed the room bounced a message we sent
 */

/**
 * @typedef {object} Config
 * @property {XmppClient} client Required.
 * @property {Room} room Required.
 */

/** RoomExtras sends and receives the room's extensions. @extends {Emitter<Events>} */
export class RoomExtras extends Emitter {
  /** @param {Config} cfg */
  constructor(cfg) {
    super();
    this.client = cfg.client; // immutable
    this.room = cfg.room; // immutable
    /** @type {MemberState} what we last published */
    this.state = { ...UNKNOWN_STATE };
    /** @type {Set<string>} ids of messages we sent, for matching bounces (the last 200) */
    this.sent = new Set();
    this.off = this.client.on('message', (st) => this.onMessage(st));
  }

  /**
   * publish puts our state in our presence (now, and in every later
   * presence, rejoins included).
   * @param {Partial<MemberState>} s
   */
  publish(s) {
    this.state = { ...this.state, ...s };
    this.room.setExtras([stateElement(this.state)]);
  }

  /**
   * say sends a groupchat message and returns its id.
   * @param {string} body
   */
  say(body) {
    return this.send(this.room.jid, 'groupchat', [x('body', {}, [body])]);
  }

  /**
   * react sends a reaction to the room.
   * @param {string} emoji one of REACTIONS
   */
  react(emoji) {
    if (!REACTIONS.includes(emoji)) throw new RangeError(`not a reaction: ${emoji}`);
    return this.send(this.room.jid, 'groupchat', [x('reaction', { xmlns: NS_ROOM }, [emoji])]);
  }

  /**
   * sendPrivate sends a private message to one occupant and returns its id.
   * @param {string} nick
   * @param {string} body
   */
  sendPrivate(nick, body) {
    return this.send(`${this.room.jid}/${nick}`, 'chat', [x('body', {}, [body]), x('x', { xmlns: MUC.user })]);
  }

  /**
   * ask sends a moderator's request to one occupant.
   * @param {string} nick
   * @param {'mute'|'unmute'|'lower-hand'} action
   */
  ask(nick, action) {
    return this.send(`${this.room.jid}/${nick}`, 'chat', [x('request', { xmlns: NS_ROOM, action }), x('x', { xmlns: MUC.user })]);
  }

  /**
   * @param {string} to
   * @param {string} type
   * @param {El[]} children
   */
  send(to, type, children) {
    if (this.room.state !== 'in') throw new Error('not in the room');
    const id = this.client.newId();
    this.client.send(x('message', { xmlns: XNS.client, to, type, id }, children));
    this.sent.add(id);
    if (this.sent.size > 200) this.sent.delete(/** @type {string} */ (this.sent.values().next().value));
    return id;
  }

  /** @param {El} st */
  onMessage(st) {
    const from = attr(st, 'from') ?? '';
    const slash = from.indexOf('/');
    const bare = (slash < 0 ? from : from.slice(0, slash)).toLowerCase();
    if (bare !== this.room.jid) return;
    const nick = slash < 0 ? '' : from.slice(slash + 1);
    const type = attr(st, 'type') ?? 'normal';
    const id = attr(st, 'id') ?? '';
    if (type === 'error') {
      if (this.sent.has(id)) {
        const err = child(st, 'error');
        const cond = err?.children.find((c) => ns(c) === 'urn:ietf:params:xml:ns:xmpp-stanzas' && c.name !== 'text');
        this.emit('sendFailed', id, cond?.name ?? 'undefined-condition');
      }
      return;
    }
    if (!nick) return;
    const reaction = child(st, 'reaction', NS_ROOM);
    if (type === 'groupchat') {
      const emoji = reaction ? textOf(reaction) : '';
      if (REACTIONS.includes(emoji)) this.emit('reaction', nick, emoji);
      return;
    }
    if (type !== 'chat' && type !== 'normal') return;
    const request = child(st, 'request', NS_ROOM);
    if (request) {
      const action = attr(request, 'action') ?? '';
      // Only a moderator may ask; the room tells us who is one.
      if (REQUESTS.includes(action) && this.room.occupants.get(nick)?.role === 'moderator') this.emit('request', nick, action);
      return;
    }
    const body = child(st, 'body');
    if (body && textOf(body)) this.emit('private', { id, nick, body: textOf(body), self: false });
  }

  /** dispose stops listening. */
  dispose() {
    this.off();
  }
}
