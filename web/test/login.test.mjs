// Tests of web/static/lib/login.js: guest, account and token logins, and a
// guest's resumption token, against a scripted server (fakes.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XmppClient, AuthError } from '../static/lib/xmpp.js';
import { clientConfig, pageToken, tokenURL, needsLogin, tokenRefused, requestResumption, NS_RESUME } from '../static/lib/login.js';
import { FakeServer, FakeClock } from './fakes.mjs';

const base = (server) => ({ url: 'ws://host/xmpp-websocket', domain: 'localhost', WebSocket: server.WebSocket, clock: new FakeClock(), pingIntervalMs: 0, reconnect: false });

test('pageToken reads Jitsi-style ?jwt= links, and ?token=', () => {
  assert.equal(pageToken('?jwt=abc.def.ghi'), 'abc.def.ghi');
  assert.equal(pageToken('?token=t1&x=1'), 't1');
  assert.equal(pageToken('?lang=en'), '');
  assert.equal(tokenURL('wss://h/xmpp-websocket', 'a.b+c'), 'wss://h/xmpp-websocket?token=a.b%2Bc');
});

test('a token login sends the token in the WebSocket URL and uses ANONYMOUS', async () => {
  const server = new FakeServer();
  const client = new XmppClient(clientConfig(base(server), { kind: 'token', token: 'eyJ.body.sig' }));
  await client.connect();
  assert.equal(new URL(server.last.url).searchParams.get('token'), 'eyJ.body.sig');
  assert.equal(server.auths[0].attrs.mechanism, 'ANONYMOUS');
  client.close();
});

test('a refused token is an AuthError with the server\'s reason, never a guest login', async () => {
  const server = new FakeServer();
  server.failAuth = true;
  server.failAuthText = 'token refused (expired): the token has expired';
  const client = new XmppClient(clientConfig(base(server), { kind: 'token', token: 'old' }));
  const err = await client.connect().then(() => null, (e) => e);
  assert.ok(err instanceof AuthError);
  assert.equal(tokenRefused(err), 'token refused (expired): the token has expired');
  assert.equal(server.binds, 0, 'no session was bound');
  assert.equal(server.auths.length, 1, 'no second attempt as a guest');
});

test('an account login only uses SCRAM; a server without it is refused, not tried as a guest', async () => {
  const server = new FakeServer(); // offers PLAIN and ANONYMOUS only
  const cfg = clientConfig(base(server), { kind: 'account', username: 'alice', password: 'pw' });
  assert.deepEqual(cfg.credentials, { username: 'alice', password: 'pw' });
  const err = await new XmppClient(cfg).connect().then(() => null, (e) => e);
  assert.ok(err instanceof AuthError);
  assert.equal(err.condition, 'no common login mechanism');
  assert.equal(server.auths.length, 0);
});

test('a server without guests: needsLogin tells the page to ask for a login', async () => {
  const server = new FakeServer();
  server.mechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-1'];
  const err = await new XmppClient(clientConfig(base(server), { kind: 'guest' })).connect().then(() => null, (e) => e);
  assert.ok(needsLogin(err), String(err));
  assert.equal(needsLogin(new Error('network')), false);
});

test('a guest asks for a resumption token and comes back with it', async () => {
  const server = new FakeServer();
  server.onStanza = (el, ws) => {
    if (el.name === 'iq' && el.children[0]?.name === 'resume' && el.children[0].ns === NS_RESUME) {
      ws.deliver(`<iq xmlns="jabber:client" type="result" id="${el.attrs.id}"><resume xmlns="${NS_RESUME}" token="R.T.K" expires="2026-12-08T03:00:00Z"/></iq>`);
    }
  };
  const client = new XmppClient(clientConfig(base(server), { kind: 'guest' }));
  await client.connect();
  const r = await requestResumption(client);
  assert.equal(r.token, 'R.T.K');
  assert.equal(r.expires?.toISOString(), '2026-12-08T03:00:00.000Z');
  client.close();
  const again = new XmppClient(clientConfig(base(server), { kind: 'guest', resume: r.token }));
  await again.connect();
  assert.equal(new URL(server.last.url).searchParams.get('resume'), 'R.T.K');
  assert.equal(server.auths[1].attrs.mechanism, 'ANONYMOUS');
  again.close();
});
