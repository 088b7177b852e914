// Phones in rooms (lib/phone.js): the stamp, the dial-in answer, and a
// dial-out's failure read from the room's stanza error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPhone, dialIn, dialOut, DialError, NS_PHONE } from '../static/lib/phone.js';
import { parse, attr, child } from '../static/lib/xml.js';
import { StanzaError } from '../static/lib/xmpp/protocol.js';

/** fakeClient answers each request with answer(iq): a stanza, or throws. */
function fakeClient(answer) {
  const sent = [];
  return { sent, request: async (iq) => { sent.push(iq); return answer(iq); } };
}

test('an occupant stamped <phone/> in the phone namespace is a phone; others are not', () => {
  assert.equal(isPhone({ payload: [parse(`<phone xmlns="${NS_PHONE}"/>`)] }), true);
  assert.equal(isPhone({ payload: [parse('<phone xmlns="urn:other"/>')] }), false);
  assert.equal(isPhone({ payload: [] }), false);
});

test('dialIn reads the number and PIN, and null from a server without a gateway', async () => {
  const c = fakeClient(() => parse(`<iq type="result"><dial-in xmlns="${NS_PHONE}" number="+33 1 23" pin="482913"/></iq>`));
  assert.deepEqual(await dialIn(/** @type {any} */ (c), 'r@conference.x'), { number: '+33 1 23', pin: '482913' });
  const q = child(c.sent[0], 'dial-in', NS_PHONE);
  assert.ok(q && attr(c.sent[0], 'type') === 'get' && attr(c.sent[0], 'to') === 'r@conference.x');
  const none = fakeClient(() => { throw new StanzaError('feature-not-implemented'); });
  assert.equal(await dialIn(/** @type {any} */ (none), 'r@conference.x'), null);
  const other = fakeClient(() => { throw new StanzaError('forbidden'); });
  await assert.rejects(dialIn(/** @type {any} */ (other), 'r@conference.x'), StanzaError);
});

test('dialOut resolves with the nick, and rejects with the reason and SIP status the room gives', async () => {
  const ok = fakeClient(() => parse(`<iq type="result"><dial xmlns="${NS_PHONE}" nick="Phone ***5678"/></iq>`));
  assert.equal(await dialOut(/** @type {any} */ (ok), 'r@c', '+33612345678'), 'Phone ***5678');
  assert.equal(attr(child(ok.sent[0], 'dial', NS_PHONE), 'to'), '+33612345678');
  const fail = (xml) => fakeClient(() => { throw StanzaError.fromStanza(parse(xml)); });
  const cases = [
    [`<iq type="error"><error type="wait"><recipient-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><busy xmlns="${NS_PHONE}" code="486"/></error></iq>`, 'busy', 486],
    [`<iq type="error"><error type="wait"><recipient-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><no-answer xmlns="${NS_PHONE}"/></error></iq>`, 'no-answer', 0],
    [`<iq type="error"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><rejected xmlns="${NS_PHONE}" code="603"/></error></iq>`, 'rejected', 603],
    ['<iq type="error"><error type="auth"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>', 'forbidden', 0],
    ['<iq type="error"><error type="cancel"><feature-not-implemented xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>', 'unavailable', 0],
  ];
  for (const [xml, reason, code] of cases) {
    await assert.rejects(dialOut(/** @type {any} */ (fail(xml)), 'r@c', '+1'), (err) => {
      assert.ok(err instanceof DialError, String(err));
      assert.equal(err.reason, reason);
      assert.equal(err.code, code);
      return true;
    });
  }
});
