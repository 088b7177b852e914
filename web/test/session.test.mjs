// The page's login choice (web/static/ui/session.js): a link's token wins,
// else a guest; the name a token carries fills the pre-join page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstLogin, tokenName } from '../static/ui/session.js';

/** jwt makes an unsigned token with these claims (session.js never checks signatures: the server does). */
const jwt = (claims) => `eyJhbGciOiJIUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.c2ln`;

test('a link with a token logs in with it, else a guest (no storage outside a browser)', () => {
  assert.deepEqual(firstLogin('?jwt=abc.def.ghi&name=x'), { kind: 'token', token: 'abc.def.ghi' });
  assert.deepEqual(firstLogin('?token=t1'), { kind: 'token', token: 't1' });
  assert.deepEqual(firstLogin('?name=ann'), { kind: 'guest' });
  assert.deepEqual(firstLogin(''), { kind: 'guest' });
});

test("tokenName reads context.user.name, in any script, and '' from anything else", () => {
  assert.equal(tokenName(jwt({ context: { user: { name: 'Zoë Ødegård 李' } } })), 'Zoë Ødegård 李');
  assert.equal(tokenName(jwt({ name: 'Plain' })), 'Plain');
  assert.equal(tokenName(jwt({ sub: 'x' })), '');
  assert.equal(tokenName(jwt({ context: { user: { name: 42 } } })), '');
  assert.equal(tokenName('not a token'), '');
  assert.equal(tokenName('a.%%%.c'), '');
  assert.equal(tokenName(''), '');
});
