// The call screen's state (web/static/ui/callstate.js): which camera the
// server is asked to forward whatever lastN, from the pinned tile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newCallState, newMember, pinnedStreams } from '../static/ui/callstate.js';

/** video makes a remote video track of a stream, as the library reports it. */
const video = (streamId, source) => /** @type {any} */ ({ kind: 'video', source, streamId, trackId: `${source === 'screen' ? 'screen' : 'video'}-${streamId}` });

test('the pinned member\'s camera is pinned at the server; a screen, oneself or nobody pins none', () => {
  const s = newCallState();
  const ann = newMember('ann', 'Ann', false);
  ann.videos = [video('p1', 'camera'), video('p1', 'screen')];
  const me = newMember('me', 'Me', true);
  const bob = newMember('bob', 'Bob', false); // no camera yet
  for (const m of [ann, me, bob]) s.members.set(m.nick, m);
  assert.deepEqual(pinnedStreams(s), []);
  s.pinned = 'ann';
  assert.deepEqual(pinnedStreams(s), ['p1']);
  s.pinned = 'ann#screen';
  assert.deepEqual(pinnedStreams(s), []);
  s.pinned = 'me';
  assert.deepEqual(pinnedStreams(s), []);
  s.pinned = 'bob';
  assert.deepEqual(pinnedStreams(s), []);
  bob.videos = [video('p7', 'camera')];
  assert.deepEqual(pinnedStreams(s), ['p7']);
  s.pinned = 'gone';
  assert.deepEqual(pinnedStreams(s), []);
});
