// Tests of web/static/lib/xml.js. Run with `npm test` in web/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse, serialize, el, x, attr, hasAttr, setAttr, child, children, is, XmlError, NS_XML, MAX_DEPTH } from '../static/lib/xml.js';

test('namespaces: default, prefixed and inherited', () => {
  const e = parse(`<?xml version='1.0'?>
    <iq xmlns='jabber:client' xmlns:j='urn:xmpp:jingle:1' type='set'>
      <j:jingle action='session-initiate'><j:content name='0'/><group xmlns='urn:g'/></j:jingle>
    </iq>`);
  assert.equal(e.ns, 'jabber:client');
  const j = child(e, 'jingle', 'urn:xmpp:jingle:1');
  assert.ok(j && is(j, 'urn:xmpp:jingle:1', 'jingle'));
  assert.equal(attr(j, 'action'), 'session-initiate');
  assert.equal(children(j, 'content', 'urn:xmpp:jingle:1').length, 1);
  assert.equal(child(j, 'group')?.ns, 'urn:g');
  assert.equal(child(j, 'group', 'urn:xmpp:jingle:1'), undefined);
});

test('text, entities, character references and CDATA', () => {
  const e = parse('<a x="1 &amp; &#x32;&#51;&lt;&quot;">one &apos;two&apos; &#x1F600;<![CDATA[<b>&amp;]]></a>');
  assert.equal(attr(e, 'x'), '1 & 23<"');
  assert.equal(e.text, "one 'two' \u{1F600}<b>&amp;");
});

test('attribute white space and line ends are normalized as XML says', () => {
  const e = parse("<a x='1\n2\t3&#10;'>l1\r\nl2\rl3</a>");
  assert.equal(attr(e, 'x'), '1 2 3\n');
  assert.equal(e.text, 'l1\nl2\nl3');
});

test('xml:lang is kept, other prefixed attributes and declarations dropped', () => {
  const e = parse("<a xmlns='u' xmlns:p='urn:p' xml:lang='en' p:x='1' y='2'/>");
  assert.deepEqual({ ...e.attrs }, { 'xml:lang': 'en', y: '2' });
  assert.ok(hasAttr(e, 'y') && !hasAttr(e, 'x'));
  assert.equal(attr(e, 'missing'), undefined);
  assert.equal(NS_XML, 'http://www.w3.org/XML/1998/namespace');
});

test('serialize escapes and declares namespaces only where they change', () => {
  const e = el('message', 'jabber:client', { to: 'a&b"c', skipped: undefined }, [
    { ...el('body', 'jabber:client'), text: "<hi> & 'bye'\r" },
    el('x', 'urn:x', { v: 'tab\there\nnl' }, [el('y', 'urn:x')]),
  ]);
  const s = serialize(e);
  assert.equal(s, '<message xmlns="jabber:client" to="a&amp;b&quot;c"><body>&lt;hi&gt; &amp; \'bye\'&#xD;</body>'
    + '<x xmlns="urn:x" v="tab&#x9;here&#xA;nl"><y/></x></message>');
  assert.equal(serialize(parse(s)), s);
  assert.equal(parse(s).children[0].text, "<hi> & 'bye'\r");
});

test('serialize drops characters XML cannot carry', () => {
  assert.equal(serialize({ ...el('a', ''), text: 'x\u0001y\uFFFEz' }), '<a>xyz</a>');
});

test('parse refuses what is not a well-formed XMPP element', () => {
  const bad = [
    '', 'text', '<a>', '<a></b>', '<a/><b/>', '<a x="1" x="2"/>', '<a x=1/>', '<a x="<"/>',
    '<p:a/>', '<a p:x="1"/>', '<a>&unknown;</a>', '<a>&amp</a>', '<a>&#0;</a>', '<a>&#xD800;</a>',
    '<!DOCTYPE a><a/>', '<a><!-- c --></a>', '<a><?pi x?></a>', '<a>]]></a>', '<a>\u0001</a>',
    "<a xmlns:p=''/>", '<a:b:c xmlns:a="u"/>', '<a><![CDATA[x</a>', '<a x="1"y="2"/>',
  ];
  for (const s of bad) assert.throws(() => parse(s), XmlError, JSON.stringify(s));
});

test('parse bounds nesting depth', () => {
  const deep = (n) => '<a>'.repeat(n) + '</a>'.repeat(n);
  assert.equal(parse(deep(MAX_DEPTH)).name, 'a');
  assert.throws(() => parse(deep(MAX_DEPTH + 1)), /nested too deeply/);
});

// ---- x, the builder with written XML's namespace inheritance ----

test('children inherit the namespace of the element they are built into', () => {
  const el = x('presence', { xmlns: 'jabber:client', to: 'r@c/n' }, [
    x('x', { xmlns: 'http://jabber.org/protocol/muc' }, [x('history', { maxstanzas: '20' })]),
    x('status', {}, ['away & <back>']),
  ]);
  assert.equal(child(child(el, 'x'), 'history').ns, 'http://jabber.org/protocol/muc');
  assert.equal(child(el, 'status').ns, 'jabber:client');
  const xml = serialize(el);
  assert.equal(xml, '<presence xmlns="jabber:client" to="r@c/n"><x xmlns="http://jabber.org/protocol/muc"><history maxstanzas="20"/></x><status>away &amp; &lt;back&gt;</status></presence>');
  assert.deepEqual(parse(xml), el);
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

test('children filters by name and namespace', () => {
  const el = parse('<r xmlns="a"><c/><c xmlns="b"/><d/></r>');
  assert.equal(children(el).length, 3);
  assert.equal(children(el, 'c').length, 2);
  assert.equal(children(el, 'c', 'b').length, 1);
  assert.equal(child(el, 'd', 'b'), undefined);
});
