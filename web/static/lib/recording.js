// @ts-check
/**
 * Recording (docs/SIGNALLING.md §14): a recorder is an occupant whose
 * presence carries <recording xmlns='urn:parley:record:0' id/>; the room
 * passes that stamp on only from an occupant holding the record
 * permission, so its presence means the meeting is being recorded. Anyone
 * holding record asks the room to start or stop one.
 *
 * No DOM access.
 */
import { iq } from './xmpp.js';
import { x, attr, child, children } from './xml.js';

export const NS_RECORD = 'urn:parley:record:0';

/** @typedef {import('./xmpp.js').XmppClient} XmppClient */
/** @typedef {import('./muc.js').Occupant} Occupant */

/**
 * recordingOf returns the id of the recording an occupant makes, '' if it
 * is no recorder.
 * @param {Occupant} o
 * @returns {string}
 */
export function recordingOf(o) {
  const el = o.payload.find((c) => c.name === 'recording' && c.ns === NS_RECORD);
  return el ? attr(el, 'id') || '-' : '';
}

/**
 * recordingsIn lists the recordings running in a room.
 * @param {Iterable<Occupant>} occupants
 * @returns {string[]}
 */
export function recordingsIn(occupants) {
  const ids = [];
  for (const o of occupants) {
    const id = recordingOf(o);
    if (id) ids.push(id);
  }
  return ids;
}

/**
 * startRecording asks the room to record; it resolves to the recording's
 * id, or rejects (forbidden without the record permission).
 * @param {XmppClient} client
 * @param {string} room the room's bare JID
 * @returns {Promise<string>}
 */
export async function startRecording(client, room) {
  const res = await client.request(iq('set', room, x('record', { xmlns: NS_RECORD, action: 'start' })));
  const rec = child(res, 'record', NS_RECORD);
  return (rec && attr(rec, 'id')) || '';
}

/**
 * stopRecording stops one recording of the room, or every one with id ''.
 * @param {XmppClient} client
 * @param {string} room
 * @param {string} [id]
 */
export async function stopRecording(client, room, id = '') {
  await client.request(iq('set', room, x('record', id ? { xmlns: NS_RECORD, action: 'stop', id } : { xmlns: NS_RECORD, action: 'stop' })));
}

/**
 * @typedef {object} RecordingFile
 * @property {string} name
 * @property {string} nick the publisher of a track, '' otherwise
 * @property {string} kind 'audio', 'video', 'composite' or 'manifest'
 * @property {number} bytes 0 when not known
 * @property {string} url a path on the server's web port, signed for this file for an hour: no login needed
 */

/**
 * @typedef {object} RecordingEntry
 * @property {string} id
 * @property {string} state 'recording', 'stopped' or 'failed'
 * @property {string} reason why it ended
 * @property {string} by who started it
 * @property {Date|null} started
 * @property {Date|null} ended null while it runs
 * @property {RecordingFile[]} files
 */

/** @param {string} s @returns {Date|null} */
const dateOf = (s) => (s ? new Date(s) : null);

/**
 * listRecordings lists the room's recordings, oldest first, with a link
 * to each file; it rejects (forbidden) without the record permission.
 * @param {XmppClient} client
 * @param {string} room
 * @returns {Promise<RecordingEntry[]>}
 */
export async function listRecordings(client, room) {
  const res = await client.request(iq('get', room, x('recordings', { xmlns: NS_RECORD })));
  const list = child(res, 'recordings', NS_RECORD);
  if (!list) throw new Error('the room answered without <recordings/>');
  return children(list, 'recording', NS_RECORD).map((r) => ({
    id: attr(r, 'id') ?? '',
    state: attr(r, 'state') ?? '',
    reason: attr(r, 'reason') ?? '',
    by: attr(r, 'by') ?? '',
    started: dateOf(attr(r, 'started') ?? ''),
    ended: dateOf(attr(r, 'ended') ?? ''),
    files: children(r, 'file', NS_RECORD).map((f) => ({
      name: attr(f, 'name') ?? '',
      nick: attr(f, 'nick') ?? '',
      kind: attr(f, 'kind') ?? '',
      bytes: Number(attr(f, 'bytes') ?? 0) || 0,
      url: attr(f, 'url') ?? '',
    })),
  }));
}

/**
 * removeRecording deletes a finished recording and its files; it rejects
 * without the record permission, or while the recording runs (conflict).
 * @param {XmppClient} client
 * @param {string} room
 * @param {string} id
 */
export async function removeRecording(client, room, id) {
  await client.request(iq('set', room, x('record', { xmlns: NS_RECORD, action: 'remove', id })));
}
