// @ts-check
/**
 * Jingle <-> SDP translation for the web client: the same mapping as the Go
 * package internal/jingle (read its doc comment for the rules), tested
 * against the same vectors (internal/jingle/testdata/vectors).
 *
 * Unified Plan: one Jingle <content/> per m-line, content name = a=mid.
 * Covered: XEP-0166/0167 (RTP description), 0176 (ICE-UDP), 0293 (rtcp-fb),
 * 0294 (header extensions), 0320 (DTLS fingerprint), 0338 (BUNDLE), 0339
 * (sources, ssrc-groups), 0343 (SCTP data channel).
 *
 * Elements are xml.js elements ({name, ns, attrs, children, text}). Every
 * failure is a JingleError whose condition is the stanza error to answer.
 *
 * The parts follow internal/jingle's files: jingle/model.js (types, checks,
 * errors), parse.js and element.js (element <-> model), candidate.js,
 * sdpwrite.js, sdpread.js and sdpcheck.js. This module is their public face.
 */
export { NS, ROLE_INITIATOR, ROLE_RESPONDER, MAX_SDP_SIZE, JingleError } from './jingle/model.js';
export { parseJingle } from './jingle/parse.js';
export { jingleElement, contentElement } from './jingle/element.js';
export { candidateFromElement, candidateElement, candidateFromSDP, candidateToSDP } from './jingle/candidate.js';
export { jingleToSDP, toSDP } from './jingle/sdpwrite.js';
export { sdpToJingle, fromSDP } from './jingle/sdpread.js';

/** @typedef {import('./jingle/model.js').Role} Role */
/** @typedef {import('./jingle/model.js').Jingle} Jingle */
/** @typedef {import('./jingle/model.js').Content} Content */
/** @typedef {import('./jingle/model.js').Candidate} Candidate */
