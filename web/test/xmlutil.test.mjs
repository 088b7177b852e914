// Tests of web/static/lib/xmlutil.js: the builder the XMPP layer uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { x, attr, setAttr, kid, kids, serialize, parseXml } from '../static/lib/xmlutil.js';

test('children inherit the namespace of the element they are built into', () => {
  const el = x('presence', { xmlns: 'jabber:client', to: 'r@c/n' }, [
    x('x', { xmlns: 'http://jabber.org/protocol/muc' }, [x('history', { maxstanzas: '20' })]),
    x('status', {}, ['away & <back>']),
  ]);
  assert.equal(kid(kid(el, 'x'), 'history').ns, 'http://jabber.org/protocol/muc');
  assert.equal(kid(el, 'status').ns, 'jabber:client');
  const xml = serialize(el);
  assert.equal(xml, '<presence xmlns="jabber:client" to="r@c/n"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="20"/></x><status>away &amp; &lt;back&gt;</status></presence>');
  assert.deepEqual(parseXml(xml), el);
});

test('attr tells an absent attribute from an empty one; undefined values are left out', () => {
  const el = x('a', { xmlns: 'urn:t', empty: '', gone: undefined });
  assert.equal(attr(el, 'empty'), '');
  assert.equal(attr(el, 'gone'), undefined);
  assert.equal(attr(el, 'toString'), undefined, 'prototype names are not attributes');
  setAttr(el, 'id', 'x1');
  assert.equal(attr(el, 'id'), 'x1');
  setAttr(el, 'id', undefined);
  assert.equal(attr(el, 'id'), undefined);
});

test('kids filters by name and namespace', () => {
  const el = parseXml('<r xmlns="a"><c/><c xmlns="b"/><d/></r>');
  assert.equal(kids(el).length, 3);
  assert.equal(kids(el, 'c').length, 2);
  assert.equal(kids(el, 'c', 'b').length, 1);
  assert.equal(kid(el, 'd', 'b'), undefined);
});
