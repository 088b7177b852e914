// @ts-check
/**
 * The Jingle <-> SDP translation in the shapes conference.js needs, over
 * jingle.js (the shared translation, tested against internal/jingle's
 * vectors): the focus's contents as one bundled SDP offer, our answer as
 * contents, ICE candidates both ways.
 */
import * as jingle from './jingle.js';
import { x, attr } from './xml.js';

/** @typedef {import('./xml.js').El} El */

export const JingleError = jingle.JingleError;

/**
 * offerToSdp writes the focus's offer: every content, in m-line order, in
 * one BUNDLE group (content-add carries no group: the group is every
 * content we hold). version is the o= session version, which must grow
 * with each new offer of a session (RFC 3264 §8).
 * @param {El[]} contents <content/> elements of the current offer
 * @param {number} version
 * @returns {string}
 */
export function offerToSdp(contents, version) {
  const names = contents.map((c) => attr(c, 'name') ?? '');
  const j = x('jingle', { xmlns: jingle.NS.jingle, action: 'session-initiate', sid: 'offer' }, [
    x('group', { xmlns: jingle.NS.grouping, semantics: 'BUNDLE' }, names.map((name) => x('content', { name }))),
    ...contents,
  ]);
  const sdp = jingle.jingleToSDP(j, jingle.ROLE_INITIATOR);
  return sdp.replace(/^o=(\S+) (\S+) \d+ /m, (_m, user, id) => `o=${user} ${id} ${version} `);
}

/**
 * OPUS_RECEIVE_PREFS are the Opus fmtp parameters our answer always
 * carries. In an answer they say what we prefer to receive (RFC 7587 §7):
 * in-band FEC and DTX, as the focus's offer asks of us. Browsers decode
 * both but their answers do not say usedtx=1; the parameters are added to
 * the Jingle we send, leaving the local description as the browser made it.
 */
export const OPUS_RECEIVE_PREFS = Object.freeze([['useinbandfec', '1'], ['usedtx', '1']]);

/**
 * answerToContents reads our SDP answer (we are the Jingle responder) into
 * one <content/> per m-line, each Opus payload type with OPUS_RECEIVE_PREFS
 * (a value the browser set itself is kept).
 * @param {string} sdp
 * @returns {El[]}
 */
export function answerToContents(sdp) {
  const j = jingle.fromSDP(sdp, jingle.ROLE_RESPONDER);
  for (const c of j.contents) {
    for (const pt of c.description?.payloadTypes ?? []) {
      if (pt.name.toLowerCase() !== 'opus') continue;
      for (const [name, value] of OPUS_RECEIVE_PREFS) {
        if (!pt.parameters.some((p) => p.name.toLowerCase() === name)) pt.parameters.push({ name, value });
      }
    }
  }
  return j.contents.map(jingle.contentElement);
}

/**
 * candidateElement turns an RTCIceCandidate's candidate string into an
 * XEP-0176 <candidate/>; null for end-of-candidates. JingleError when
 * Jingle cannot carry it.
 * @param {string} line
 * @returns {El|null}
 */
export function candidateElement(line) {
  const c = jingle.candidateFromSDP(line);
  return c && jingle.candidateElement(c);
}

/**
 * candidateLine turns an XEP-0176 <candidate/> into the string
 * RTCPeerConnection.addIceCandidate takes.
 * @param {El} el
 */
export function candidateLine(el) {
  return jingle.candidateToSDP(jingle.candidateFromElement(el));
}

/**
 * localUfrag returns the first a=ice-ufrag of a description, '' if none.
 * @param {string} sdp
 */
export function localUfrag(sdp) {
  const m = /^a=ice-ufrag:(\S+)/m.exec(sdp);
  return m ? m[1] : '';
}
