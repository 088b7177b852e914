// Tests of web/static/lib/sasl.js against the RFC test vectors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { create, choose, SaslError } from '../static/lib/sasl.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

test('SCRAM-SHA-1 follows RFC 5802 §5', async () => {
  const m = create('SCRAM-SHA-1', { username: 'user', password: 'pencil' }, { nonce: 'fyko+d2lbbFgONRv9qkxdawL' });
  assert.equal(dec.decode(await m.initial()), 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL');
  const final = await m.step(enc.encode('r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096'));
  assert.equal(dec.decode(final), 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=');
  await m.finish(enc.encode('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='));
  await assert.rejects(m.finish(enc.encode('v=AAAApqV8S7suAoZWja4dJRkFsKQ=')), SaslError);
});

test('SCRAM-SHA-256 follows RFC 7677 §3', async () => {
  const m = create('SCRAM-SHA-256', { username: 'user', password: 'pencil' }, { nonce: 'rOprNGfwEbeRWgbNEkqO' });
  assert.equal(dec.decode(await m.initial()), 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO');
  const final = await m.step(enc.encode('r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'));
  assert.equal(dec.decode(final), 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=');
  await m.finish(enc.encode('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4='));
});

test('SCRAM refuses a server that cheats', async () => {
  const creds = { username: 'user', password: 'pencil' };
  const bad = [
    'r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096', // nonce not extended
    'r=abc,s=QSXCR+Q6sek8bf92,i=4096', // nonce equals ours
    'r=abcdef,s=QSXCR+Q6sek8bf92,i=1', // too few iterations
    'r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999', // too many
    'r=abcdef,s=QSXCR+Q6sek8bf92', // no count
    'm=ext,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096', // unknown mandatory extension
    'garbage',
    'r=abcdef,s=!!!,i=4096', // salt not base64
  ];
  for (const challenge of bad) {
    const m = create('SCRAM-SHA-1', creds, { nonce: 'abc' });
    await m.initial();
    await assert.rejects(m.step(enc.encode(challenge)), SaslError, challenge);
  }
  const m = create('SCRAM-SHA-1', creds, { nonce: 'abc' });
  await assert.rejects(m.finish(enc.encode('v=xyz')), SaslError, 'success before the exchange');
});

test('PLAIN and ANONYMOUS', async () => {
  const p = create('PLAIN', { username: 'alice', password: 'secret' });
  assert.deepEqual([...(await p.initial()) ?? []], [...enc.encode('\0alice\0secret')]);
  const a = create('ANONYMOUS', null);
  assert.equal((await a.initial())?.length, 0);
  assert.throws(() => create('PLAIN', null), SaslError);
  assert.throws(() => create('DIGEST-MD5', null), SaslError);
});

test('choose prefers the strongest common mechanism', () => {
  const creds = { username: 'a', password: 'b' };
  assert.equal(choose(['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'], creds), 'SCRAM-SHA-256');
  assert.equal(choose(['PLAIN', 'SCRAM-SHA-1'], creds), 'SCRAM-SHA-1');
  assert.equal(choose(['PLAIN', 'ANONYMOUS'], creds), 'PLAIN');
  assert.equal(choose(['PLAIN', 'ANONYMOUS'], null), 'ANONYMOUS');
  assert.equal(choose(['SCRAM-SHA-1'], null), null);
  assert.equal(choose(['PLAIN', 'SCRAM-SHA-1', 'SCRAM-SHA-256'], creds, ['SCRAM-SHA-1', 'PLAIN']), 'SCRAM-SHA-1');
  assert.equal(choose(['SCRAM-SHA-256'], creds, ['PLAIN']), null);
});
