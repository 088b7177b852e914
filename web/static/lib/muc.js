// @ts-check
/**
 * Multi-user chat (XEP-0045) for one room: join (configuring a new room as
 * an instant room), the occupant list, groupchat, leave and kick. It rejoins
 * by itself when its XmppClient comes back online after a drop.
 *
 * No DOM access.
 */
import { Emitter } from './emitter.js';
import { NS as XNS, StanzaError, XmppError, iq } from './xmpp.js';
import { x, attr, ns, local, child, children, textOf } from './xml.js';

/** @typedef {import('./xml.js').El} El */
/** @typedef {import('./xmpp.js').XmppClient} XmppClient */

export const NS = Object.freeze({
  muc: 'http://jabber.org/protocol/muc',
  user: 'http://jabber.org/protocol/muc#user',
  admin: 'http://jabber.org/protocol/muc#admin',
  owner: 'http://jabber.org/protocol/muc#owner',
  data: 'jabber:x:data',
  delay: 'urn:xmpp:delay',
  nick: 'http://jabber.org/protocol/nick',
  identity: 'urn:parley:identity:0',
  lobby: 'urn:parley:lobby:0',
  room: 'urn:parley:room:0',
  perm: 'urn:parley:perm:0',
});

/**
 * parseIdentity reads the server-stamped identity of an occupant's presence.
 * @param {El} st
 * @returns {Identity|null}
 */
export function parseIdentity(st) {
  const el = child(st, 'identity', NS.identity);
  if (!el) return null;
  const kind = attr(el, 'kind');
  return {
    kind: kind === 'account' || kind === 'guest' || kind === 'token' ? kind : 'unknown',
    id: attr(el, 'id') ?? '',
    name: attr(el, 'name') ?? '',
    avatar: attr(el, 'avatar') ?? '',
    moderator: attr(el, 'moderator') === 'true',
  };
}

/** @param {El} st @returns {string} a token's verified name, or '' */
function identityName(st) {
  return parseIdentity(st)?.name.trim() ?? '';
}

/**
 * destroyedReason reads why the room went away, or why the meeting ended
 * (parley's <ended/>, next to the XEP-0045 <destroy/>).
 * @param {El} destroy
 * @param {El|null} presence the unavailable presence
 * @returns {LeaveReason}
 */
function destroyedReason(destroy, presence) {
  const reasonEl = child(destroy, 'reason', NS.user);
  const ended = presence ? child(presence, 'ended', NS.room) : undefined;
  /** @type {LeaveReason} */
  const why = { kind: 'destroyed', text: reasonEl ? textOf(reasonEl) : '' };
  if (ended) {
    why.ended = true;
    why.by = attr(ended, 'by') ?? '';
    // Only <ended/> carries the moderator's reason; the <destroy/> reason
    // without it is the server's generic words for plain clients.
    const r = child(ended, 'reason', NS.room);
    why.text = r ? textOf(r) : '';
  }
  return why;
}

/** JoinError is a join the room refused, with the XMPP condition. */
export class JoinError extends XmppError {
  /** @param {string} condition @param {string} text */
  constructor(condition, text = '') {
    super(text ? `cannot join the room: ${condition} (${text})` : `cannot join the room: ${condition}`);
    this.name = 'JoinError';
    this.condition = condition;
    /** the room's explanation, e.g. a lobby's denial reason; '' if none */
    this.text = text;
  }
}

/**
 * @typedef {object} Occupant
 * @property {string} nick the occupant's nick in the room (its resource)
 * @property {string} jid the occupant JID, room@service/nick
 * @property {string|null} realJid the real JID when the room reveals it
 * @property {string} role moderator, participant, visitor
 * @property {string} affiliation owner, admin, member, none
 * @property {string} show '' (available), away, dnd, xa, chat
 * @property {string} displayName a token's verified name (identity.name) if any, else the
 *   XEP-0172 nickname if given, else the nick
 * @property {Identity|null} identity what the server says the occupant is (parley's
 *   urn:parley:identity:0, stamped by the room), null from other servers
 * @property {boolean} self
 * @property {string} permRole parley's role (owner, moderator, participant,
 *   guest, viewer) from the room's <perm/>; '' if the room sends none
 * @property {string[]} permissions what it may do (docs/PERMISSIONS.md)
 * @property {string[]} muted media a moderator muted: audio, video, screen
 * @property {string} actor the nick of the moderator whose action this presence reports
 *   (muc#user <actor nick/>: a mute, a role change), '' if none
 * @property {El[]} payload the presence's other children (application extensions, see setExtras)
 */

/**
 * @typedef {object} Identity
 * @property {'account'|'guest'|'token'|'unknown'} kind how the occupant logged in
 * @property {string} id a token's user id ('' otherwise)
 * @property {string} name a token's context.user.name ('' otherwise)
 * @property {string} avatar a token's context.user.avatar ('' otherwise)
 * @property {boolean} moderator the token said moderator: true
 */

/**
 * @typedef {object} ChatMessage
 * @property {string} nick who sent it ('' for the room itself)
 * @property {string} body
 * @property {Date|null} delayed when a message from history was sent, else null
 * @property {string} id
 * @property {boolean} self
 */

/**
 * @typedef {object} Events
 * @property {[o: Occupant]} joined an occupant entered (self included)
 * @property {[o: Occupant, why: LeaveReason]} left an occupant left
 * @property {[o: Occupant]} changed an occupant's role, permissions, mutes, show or name changed
 * @property {[media: string[], by: string]} unmuteAsked a moderator asks us to unmute
 * @property {[m: ChatMessage]} message a groupchat message
 * @property {[subject: string, nick: string]} subject
 * @property {[why: LeaveReason]} removed we are no longer in the room (kicked, banned, room destroyed, or we left)
 * @property {[info: {id: string}]} waiting the room has a lobby and we knock: join() waits
 *   (without its timeout) until a moderator admits us (join resolves) or denies us (join
 *   rejects with JoinError 'not-allowed', its text the moderator's reason)
 * @property {[]} rejoined we are back in the room after a reconnection
 * @property {[err: Error]} rejoinFailed rejoining after a reconnection failed
 */

/**
 * @typedef {object} LeaveReason
 * @property {'left'|'kicked'|'banned'|'destroyed'|'renamed'|'disconnected'|'removed'} kind
 * @property {string} text the reason given, if any
 * @property {string} [newNick] for renamed
 * @property {boolean} [ended] for destroyed: someone ended the meeting for all (the room
 *   may stay, declared)
 * @property {string} [by] for ended: the nick of who ended it ('' for the server's admin)
 */

/**
 * @typedef {object} Config
 * @property {XmppClient} client an online client. Required.
 * @property {string} room the room's bare JID, e.g. team@conference.example.test. Required.
 * @property {string} nick the nick to join with. Required.
 * @property {string} [displayName] sent as a XEP-0172 nickname; default the nick
 * @property {string} [password] room password, if it has one
 * @property {number} [historyMaxStanzas] history to ask for on join; default 20
 * @property {number} [maxNickRetries] on a nick conflict, retry with "nick (2)" and so on; default 5
 * @property {number} [rejoinRetryMs] after a reconnection, a conflict on our own nick is
 *   retried this often (the nick is usually held by our old, dead session,
 *   which the server drops once it fails a liveness check); default 2000
 * @property {number} [rejoinConflictRetries] how many times, before taking "nick (2)"
 *   and so on; default 10
 */

/** Room is our presence in one MUC room. @extends {Emitter<Events>} */
export class Room extends Emitter {
  /** @param {Config} cfg */
  constructor(cfg) {
    super();
    if (!cfg.client || !cfg.room || !cfg.nick) throw new XmppError('client, room and nick are required');
    /** @type {Required<Omit<Config,'password'>> & {password?: string}} immutable */
    this.cfg = { displayName: cfg.nick, historyMaxStanzas: 20, maxNickRetries: 5, rejoinRetryMs: 2000, rejoinConflictRetries: 10, ...cfg };
    this.client = cfg.client;
    this.jid = cfg.room.toLowerCase();
    /** @type {string} our current nick; changes when a conflict forced another */
    this.nick = cfg.nick;
    /** @type {Map<string, Occupant>} by nick; rebuilt from presences */
    this.occupants = new Map();
    /** @type {'out'|'joining'|'in'|'left'} */
    this.state = 'out';
    /** @type {((st: El) => void)|null} receives our own presence while joining */
    this.joinWaiter = null;
    /** @type {any} the join's timeout; cleared while we wait in a lobby */
    this.joinTimer = null;
    this.offs = [
      this.client.on('presence', (st) => this.onPresence(st)),
      this.client.on('message', (st) => this.onMessage(st)),
      this.client.on('offline', () => this.onOffline()),
      this.client.on('online', (_jid, again) => {
        if (again && this.state === 'out' && this.wanted) this.rejoin();
      }),
    ];
    this.wanted = false; // we mean to be in the room (rejoin after drops)
    /** @type {Occupant|null} */
    this.self = null;
    /** @type {El[]} application elements sent in each of our presences (setExtras) */
    this.extras = [];
    /** @type {El|null} the unavailable presence being handled */
    this.lastUnavailable = null;
  }

  /**
   * join enters the room and resolves with our own occupant once the room
   * has sent the occupant list. A room we create (status 201) is made an
   * instant room with the default configuration.
   * @returns {Promise<Occupant>}
   */
  async join() {
    this.wanted = true;
    const base = this.cfg.nick;
    for (let i = 0; ; i++) {
      this.nick = i === 0 ? base : `${base} (${i + 1})`;
      try {
        return await this.joinOnce();
      } catch (err) {
        if (!(err instanceof JoinError) || err.condition !== 'conflict' || i >= this.cfg.maxNickRetries) {
          this.wanted = false;
          throw err;
        }
      }
    }
  }

  /** @returns {Promise<Occupant>} */
  async joinOnce() {
    this.state = 'joining';
    this.occupants.clear();
    /** @type {El[]} */
    const mucKids = [x('history', { maxstanzas: String(this.cfg.historyMaxStanzas) })];
    if (this.cfg.password) mucKids.push(x('password', {}, [this.cfg.password]));
    // Our capabilities: the focus that knows them calls us at once.
    const caps = await this.client.caps();
    const pres = x('presence', { xmlns: XNS.client, to: `${this.jid}/${this.nick}` }, [
      x('x', { xmlns: NS.muc }, mucKids),
      x('nick', { xmlns: NS.nick }, [this.cfg.displayName]),
      ...(caps ? [caps] : []),
      ...this.extras,
    ]);
    const self = await new Promise((resolve, reject) => {
      const timer = this.client.clock.setTimeout(() => {
        this.joinWaiter = null;
        reject(new JoinError('remote-server-timeout', 'the room did not answer'));
      }, this.client.cfg.timeoutMs);
      this.joinTimer = timer;
      this.joinWaiter = (st) => {
        this.client.clock.clearTimeout(timer);
        this.joinWaiter = null;
        if (attr(st, 'type') === 'error') {
          const e = StanzaError.fromStanza(st);
          reject(new JoinError(e.condition, e.text));
        } else resolve(st);
      };
      try {
        this.client.send(pres);
      } catch (err) {
        this.client.clock.clearTimeout(timer);
        this.joinWaiter = null;
        reject(err);
      }
    });
    this.state = 'in';
    if (statusCodes(self).includes('201')) await this.configureInstant();
    return /** @type {Occupant} */ (this.self);
  }

  /** configureInstant unlocks a room we just created (XEP-0045 §10.1.2). */
  async configureInstant() {
    await this.client.request(iq('set', this.jid, x('query', { xmlns: NS.owner }, [x('x', { xmlns: NS.data, type: 'submit' })])));
  }

  /**
   * rejoin enters the room again after the client reconnected. Our nick
   * may still be held by our previous session, whose connection died
   * without the server noticing yet: we try it again for a while, then
   * settle for another.
   */
  async rejoin() {
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.joinOnce();
          break;
        } catch (err) {
          const conflict = err instanceof JoinError && err.condition === 'conflict';
          if (!conflict || !this.wanted || this.client.state !== 'online') throw err;
          if (attempt >= this.cfg.rejoinConflictRetries) {
            await this.join();
            break;
          }
          this.state = 'joining';
          await new Promise((resolve) => this.client.clock.setTimeout(() => resolve(undefined), this.cfg.rejoinRetryMs));
        }
      }
      this.emit('rejoined');
    } catch (err) {
      this.state = 'out';
      this.emit('rejoinFailed', err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * say sends a groupchat message.
   * @param {string} body
   */
  say(body) {
    if (this.state !== 'in') throw new XmppError('not in the room');
    this.client.send(x('message', { xmlns: XNS.client, to: this.jid, type: 'groupchat', id: this.client.newId() }, [x('body', {}, [body])]));
  }

  /**
   * leave exits the room; it resolves when the room confirms or after a
   * short wait.
   * @param {string} [status]
   */
  async leave(status) {
    this.wanted = false;
    if (this.state !== 'in' && this.state !== 'joining') {
      this.state = 'left';
      return;
    }
    const done = new Promise((resolve) => {
      const off = this.on('removed', () => {
        off();
        resolve(undefined);
      });
      this.client.clock.setTimeout(() => resolve(undefined), 2000);
    });
    try {
      this.client.send(x('presence', { xmlns: XNS.client, to: `${this.jid}/${this.nick}`, type: 'unavailable' }, status ? [x('status', {}, [status])] : []));
    } catch {
      this.removed({ kind: 'left', text: '' });
      return;
    }
    await done;
  }

  /**
   * setExtras replaces the application elements carried in our presence
   * (e.g. mute state, a raised hand) and, when in the room, broadcasts
   * them at once. Later joins and rejoins carry them too.
   * @param {El[]} els
   */
  setExtras(els) {
    this.extras = els;
    if (this.state !== 'in') return;
    this.client.send(x('presence', { xmlns: XNS.client, to: `${this.jid}/${this.nick}` }, [
      x('nick', { xmlns: NS.nick }, [this.cfg.displayName]),
      ...els,
    ]));
  }

  /**
   * setRole changes an occupant's role (moderator, participant, visitor,
   * or none to kick); the room checks that we may.
   * @param {string} nick
   * @param {'moderator'|'participant'|'visitor'|'none'} role
   */
  async setRole(nick, role) {
    await this.client.request(iq('set', this.jid, x('query', { xmlns: NS.admin }, [x('item', { nick, role })])));
  }

  /**
   * kick removes an occupant (a moderator's right).
   * @param {string} nick
   * @param {string} [reason]
   */
  async kick(nick, reason) {
    const item = x('item', { nick, role: 'none' }, reason ? [x('reason', {}, [reason])] : []);
    await this.client.request(iq('set', this.jid, x('query', { xmlns: NS.admin }, [item])));
  }

  /**
   * mute stops the forwarding of an occupant's media at the server until it
   * unmutes (mute_others; nick '' mutes ourselves).
   * @param {string} nick
   * @param {string[]} [media] audio, video, screen; default all
   */
  async mute(nick, media = []) {
    const attrs = { xmlns: NS.perm, media: media.join(' ') };
    await this.client.request(iq('set', this.jid, x('mute', nick ? { ...attrs, nick } : attrs)));
  }

  /**
   * unmute lifts our own mute (we need the publish permission), or, with a
   * nick, asks that occupant to unmute (ask_unmute).
   * @param {string[]} [media] default all
   * @param {string} [nick]
   */
  async unmute(media = [], nick = '') {
    const attrs = { xmlns: NS.perm, media: media.join(' ') };
    await this.client.request(iq('set', this.jid, x('unmute', nick ? { ...attrs, nick } : attrs)));
  }

  /**
   * features asks the room what it is (XEP-0045 §6.4, disco#info): for
   * instance muc_persistent, a room that stays when its meeting ends.
   * @returns {Promise<string[]>}
   */
  async features() {
    const res = await this.client.request(iq('get', this.jid, x('query', { xmlns: XNS.discoInfo })));
    const q = child(res, 'query', XNS.discoInfo);
    return q ? children(q).filter((k) => k.name === 'feature').map((k) => attr(k, 'var') ?? '') : [];
  }

  /** dispose stops listening to the client. */
  dispose() {
    for (const off of this.offs) off();
    this.offs = [];
  }

  // --- incoming ----------------------------------------------------------

  /** @param {El} st */
  onPresence(st) {
    const from = attr(st, 'from') ?? '';
    const slash = from.indexOf('/');
    if (slash < 0 || from.slice(0, slash).toLowerCase() !== this.jid) return;
    const nick = from.slice(slash + 1);
    const type = attr(st, 'type');
    if (type === 'error') {
      if (this.joinWaiter) this.joinWaiter(st);
      return;
    }
    const xu = child(st, 'x', NS.user);
    const codes = statusCodes(st);
    const isSelf = codes.includes('110') || (nick === this.nick && this.state === 'joining');
    if (type === 'unavailable') {
      this.lastUnavailable = st;
      this.onUnavailable(nick, xu, codes, isSelf);
      return;
    }
    if (type) return;
    const item = xu ? child(xu, 'item', NS.user) : undefined;
    const nickEl = child(st, 'nick', NS.nick);
    const showEl = child(st, 'show');
    const actorEl = item ? child(item, 'actor', NS.user) : undefined;
    /** @type {Occupant} */
    const o = {
      nick,
      jid: from,
      realJid: (item && attr(item, 'jid')) || null,
      role: (item && attr(item, 'role')) || 'participant',
      affiliation: (item && attr(item, 'affiliation')) || 'none',
      show: showEl ? textOf(showEl) : '',
      displayName: identityName(st) || (nickEl && textOf(nickEl).trim()) || nick,
      identity: parseIdentity(st),
      self: isSelf,
      ...permOf(st),
      actor: (actorEl && attr(actorEl, 'nick')) || '',
      payload: children(st).filter((k) => ns(k) !== NS.user && ns(k) !== NS.nick && local(k) !== 'show' && local(k) !== 'status'),
    };
    const prev = this.occupants.get(nick);
    this.occupants.set(nick, o);
    if (isSelf) {
      this.self = o;
      this.nick = nick; // the room may have changed it (status 210)
    }
    if (prev) this.emit('changed', o);
    else this.emit('joined', o);
    if (isSelf && this.joinWaiter) this.joinWaiter(st);
  }

  /**
   * @param {string} nick
   * @param {El|undefined} xu
   * @param {string[]} codes
   * @param {boolean} isSelf
   */
  onUnavailable(nick, xu, codes, isSelf) {
    const o = this.occupants.get(nick);
    const item = xu ? child(xu, 'item', NS.user) : undefined;
    const reasonEl = item ? child(item, 'reason', NS.user) : undefined;
    const text = reasonEl ? textOf(reasonEl) : '';
    /** @type {LeaveReason} */
    let why = { kind: 'left', text };
    if (codes.includes('303')) why = { kind: 'renamed', text, newNick: (item && attr(item, 'nick')) || '' };
    else if (codes.includes('307')) why = { kind: 'kicked', text };
    else if (codes.includes('301')) why = { kind: 'banned', text };
    else if (xu && child(xu, 'destroy', NS.user)) why = destroyedReason(/** @type {El} */ (child(xu, 'destroy', NS.user)), this.lastUnavailable);
    else if (codes.includes('321') || codes.includes('322') || codes.includes('332')) why = { kind: 'removed', text };
    if (isSelf && why.kind === 'renamed' && why.newNick) {
      this.nick = why.newNick;
    }
    if (o) {
      this.occupants.delete(nick);
      this.emit('left', o, why);
    }
    if (isSelf && why.kind !== 'renamed') this.removed(why);
  }

  /** @param {LeaveReason} why */
  removed(why) {
    const wasIn = this.state === 'in' || this.state === 'joining';
    this.state = why.kind === 'left' ? 'left' : 'out';
    this.wanted = false;
    for (const [n, o] of this.occupants) {
      if (!o.self) this.emit('left', o, { kind: 'disconnected', text: '' });
      this.occupants.delete(n);
    }
    if (wasIn) this.emit('removed', why);
  }

  /** onOffline forgets the occupants: presence will be resent on rejoin. */
  onOffline() {
    if (this.state !== 'in' && this.state !== 'joining') return;
    this.state = 'out';
    for (const o of [...this.occupants.values()]) {
      this.occupants.delete(o.nick);
      if (!o.self) this.emit('left', o, { kind: 'disconnected', text: '' });
    }
  }

  /** @param {El} st */
  onMessage(st) {
    const from = attr(st, 'from') ?? '';
    const slash = from.indexOf('/');
    const bare = (slash < 0 ? from : from.slice(0, slash)).toLowerCase();
    const waiting = bare === this.jid && slash < 0 ? child(st, 'waiting', NS.lobby) : undefined;
    if (waiting && this.state === 'joining' && this.joinWaiter) {
      // A lobby: no timeout while a moderator decides.
      this.client.clock.clearTimeout(this.joinTimer);
      this.emit('waiting', { id: attr(waiting, 'id') ?? '' });
      return;
    }
    if (bare !== this.jid) return;
    const ask = slash < 0 ? child(st, 'unmute', NS.perm) : undefined;
    if (ask && attr(st, 'type') !== 'error') {
      this.emit('unmuteAsked', (attr(ask, 'media') ?? '').split(' ').filter(Boolean), attr(ask, 'by') ?? '');
      return;
    }
    if (attr(st, 'type') !== 'groupchat') return;
    const nick = slash < 0 ? '' : from.slice(slash + 1);
    const subj = child(st, 'subject');
    if (subj) {
      this.emit('subject', textOf(subj), nick);
      return;
    }
    const body = child(st, 'body');
    if (!body) return;
    const delay = children(st, 'delay', NS.delay)[0];
    const stamp = delay ? new Date(attr(delay, 'stamp') ?? '') : null;
    this.emit('message', {
      nick,
      body: textOf(body),
      delayed: stamp && !isNaN(stamp.getTime()) ? stamp : null,
      id: attr(st, 'id') ?? '',
      self: nick === this.nick,
    });
  }
}

/**
 * permOf reads the room's <perm/> of a presence.
 * @param {El} st
 * @returns {{permRole: string, permissions: string[], muted: string[]}}
 */
function permOf(st) {
  const p = child(st, 'perm', NS.perm);
  const words = (/** @type {string|undefined} */ s) => (s ?? '').split(' ').filter(Boolean);
  return { permRole: (p && attr(p, 'role')) || '', permissions: words(p && attr(p, 'allow')), muted: words(p && attr(p, 'muted')) };
}

/** @param {El} st @returns {string[]} the MUC status codes of a presence */
function statusCodes(st) {
  const xu = children(st, 'x').find((k) => ns(k) === NS.user);
  if (!xu) return [];
  return children(xu, 'status', NS.user).map((s) => attr(s, 'code') ?? '');
}

/** @param {El} st */
export function isMucPresence(st) {
  return local(st) === 'presence' && children(st, 'x').some((k) => ns(k) === NS.user);
}
