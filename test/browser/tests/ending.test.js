// How a call ends, in the user's words: the room closed by its owner, and
// the server going away (a banner while the client retries).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley } from '../lib/parley.js';
import { join, waitUntil, diagnose, closeAll } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

const inCall = (p) => waitUntil(() => p.page.evaluate(() => window.parley?.status.phase === 'in-call'), 30_000, () => diagnose([p]));

test('a room its owner closes ends the call for the others with its own words and a rejoin button', async () => {
  const owner = await join(parley.base, 'closing', 'olive', 'chromium');
  people.push(owner);
  await inCall(owner);
  const guest = await join(parley.base, 'closing', 'gil', 'firefox');
  people.push(guest);
  await inCall(guest);
  await owner.page.evaluate(async () => {
    const { iq } = await import('/static/lib/xmpp.js');
    const { x } = await import('/static/lib/xml.js');
    const call = window.parley.call;
    await call.client.request(iq('set', call.room.jid, x('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, [x('destroy', {}, [x('reason', {}, ['done for today'])])])));
  });
  await waitUntil(() => guest.page.evaluate(() => !document.getElementById('left').hidden), 10_000, () => diagnose([guest]));
  assert.deepEqual(await guest.page.evaluate(() => [document.getElementById('left').dataset.kind, document.getElementById('left-title').textContent, document.getElementById('left-reason').textContent]),
    ['destroyed', 'The meeting has ended', 'The room was closed by its owner.']);
  assert.equal(await guest.page.$eval('#rejoin', (b) => b.textContent), 'Rejoin');
  assert.equal(await guest.page.evaluate(() => document.activeElement.id), 'rejoin', 'the rejoin button does not have the focus');
});

test('when the server goes away, a banner says the client is reconnecting', async () => {
  const p = people[1];
  await p.page.click('#rejoin');
  await inCall(p);
  assert.equal(await p.page.$eval('#banner', (b) => b.hidden), true, 'a banner while connected');
  await parley.stop({ keep: true });
  await waitUntil(() => p.page.$eval('#banner', (b) => !b.hidden && b.textContent === 'Connection lost. Reconnecting…'), 20_000,
    async () => `banner: ${await p.page.$eval('#banner', (b) => `${b.hidden} ${b.textContent}`)}`);
  assert.equal(await p.page.$eval('#banner', (b) => b.getAttribute('role')), 'alert');
  assert.equal(await p.page.evaluate(() => document.getElementById('call').hidden), false, 'the call screen went away');
});
