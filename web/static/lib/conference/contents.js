// @ts-check
/**
 * The Jingle contents the focus offers, read for the call: their media,
 * who sends on them and whose source they carry; and the errors we answer
 * the focus with.
 */
import { StanzaError } from '../xmpp.js';
import { x, attr, ns, child, children } from '../xml.js';

/** @typedef {import('../xml.js').El} El */

export const NS = Object.freeze({
  jingle: 'urn:xmpp:jingle:1',
  jingleErrors: 'urn:xmpp:jingle:errors:1',
  rtp: 'urn:xmpp:jingle:apps:rtp:1',
  ssma: 'urn:xmpp:jingle:apps:rtp:ssma:0',
  grouping: 'urn:xmpp:jingle:apps:grouping:0',
  ice: 'urn:xmpp:jingle:transports:ice-udp:1',
  jitmeet: 'http://jitsi.org/jitmeet',
  focusRoom: 'urn:parley:focus:0',
});

/** @param {El} c */
export function mediaOf(c) {
  const d = child(c, 'description', NS.rtp);
  return d ? attr(d, 'media') ?? '' : '';
}

/** sendsFromUs: the focus's content lets us (the responder) send. @param {El} c */
export function sendsFromUs(c) {
  const s = attr(c, 'senders') ?? 'both';
  return s === 'both' || s === 'responder';
}

/** sendsToUs: the focus sends on this content. @param {El} c */
export function sendsToUs(c) {
  const s = attr(c, 'senders') ?? 'both';
  return s === 'both' || s === 'initiator';
}

/**
 * ownerOf reads who publishes the source of a content: the ssrc-info owner
 * (an occupant JID), the msid stream id, and the msid track id (whose
 * prefix says audio, video or screen).
 * @param {El} c
 * @returns {{nick: string, owner: string, streamId: string, trackId: string}}
 */
export function ownerOf(c) {
  const d = child(c, 'description', NS.rtp);
  for (const src of d ? children(d, 'source') : []) {
    const info = children(src, 'ssrc-info').find((k) => ns(k) === NS.jitmeet);
    const msid = children(src, 'parameter').find((p) => attr(p, 'name') === 'msid');
    const owner = info ? attr(info, 'owner') ?? '' : '';
    const [streamId = '', trackId = ''] = msid ? (attr(msid, 'value') ?? '').split(' ') : [];
    if (owner || streamId) {
      const slash = owner.indexOf('/');
      return { nick: slash < 0 ? '' : owner.slice(slash + 1), owner, streamId, trackId };
    }
  }
  return { nick: '', owner: '', streamId: '', trackId: '' };
}

/** @param {string} j */
export function bare(j) {
  const s = j.indexOf('/');
  return (s < 0 ? j : j.slice(0, s)).toLowerCase();
}

/**
 * jingleError is a StanzaError carrying an XEP-0166 Jingle condition.
 * @param {string} condition
 * @param {string} jingleCondition '' for none
 * @param {string} [text]
 */
export function jingleError(condition, jingleCondition, text = '') {
  const e = new StanzaError(condition, condition === 'bad-request' || condition === 'not-acceptable' ? 'modify' : 'cancel', text);
  e.extra = jingleCondition ? x(jingleCondition, { xmlns: NS.jingleErrors }) : undefined;
  return e;
}
