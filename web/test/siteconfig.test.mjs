// Where the web client finds its XMPP server (web/static/lib/siteconfig.js):
// parley's own on the page's origin by default, or what config.json says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { siteConfig, loadSiteConfig, SiteConfigError, CONFIG_PATH } from '../static/lib/siteconfig.js';

const page = { protocol: 'http:', host: '127.0.0.1:8080', hostname: '127.0.0.1', href: 'http://127.0.0.1:8080/room?name=x' };
const secure = { protocol: 'https:', host: 'meet.example.org', hostname: 'meet.example.org', href: 'https://meet.example.org/room' };

test('without a config: the page\'s own origin, its host name as a domain the server may correct', () => {
  assert.deepEqual(siteConfig(null, page), { url: 'ws://127.0.0.1:8080/xmpp-websocket', domain: '127.0.0.1', learnDomain: true, muc: null, focus: null, guestDomain: null });
  assert.equal(siteConfig(null, secure).url, 'wss://meet.example.org/xmpp-websocket');
  assert.deepEqual(siteConfig({}, secure), siteConfig(null, secure));
});

test('a full config: another server, its domain (not learned), MUC and focus', () => {
  const c = siteConfig({ websocket: 'wss://xmpp.example.org:5281/xmpp-websocket', domain: 'example.org', muc: 'rooms.example.org', focus: 'focus.example.org' }, secure);
  assert.deepEqual(c, { url: 'wss://xmpp.example.org:5281/xmpp-websocket', domain: 'example.org', learnDomain: false, muc: 'rooms.example.org', focus: 'focus.example.org', guestDomain: null });
  assert.equal(siteConfig({ focus: 'focus@auth.example.org' }, page).focus, 'focus@auth.example.org', 'an account as the focus');
});

test('a guest host: guests log in there, and the rooms and the focus stay the domain\'s', () => {
  const c = siteConfig({ domain: 'example.org', guestDomain: 'guest.example.org' }, secure);
  assert.deepEqual(c, { url: 'wss://meet.example.org/xmpp-websocket', domain: 'example.org', learnDomain: false, muc: 'conference.example.org', focus: 'focus.example.org', guestDomain: 'guest.example.org' });
  const own = siteConfig({ domain: 'example.org', guestDomain: 'guest.example.org', muc: 'rooms.example.org', focus: 'f@example.org' }, secure);
  assert.deepEqual([own.muc, own.focus], ['rooms.example.org', 'f@example.org'], 'explicit addresses win');
});

test('a relative WebSocket URL is taken against the page, as ws: or wss:', () => {
  assert.equal(siteConfig({ websocket: '/prosody/xmpp-websocket' }, secure).url, 'wss://meet.example.org/prosody/xmpp-websocket');
  assert.equal(siteConfig({ websocket: '//xmpp.example.org/ws' }, page).url, 'ws://xmpp.example.org/ws');
  assert.equal(siteConfig({ websocket: 'https://xmpp.example.org/ws' }, page).url, 'wss://xmpp.example.org/ws');
});

test('a bad config is a clear error, never a silent fallback', () => {
  const bad = [
    [[], /must be a JSON object/],
    ['x', /must be a JSON object/],
    [{ websocket: 'ftp://x/y' }, /must be ws: or wss:, not ftp:/],
    [{ websocket: 42 }, /"websocket" must be a non-empty string/],
    [{ domain: '' }, /"domain" must be a non-empty string/],
    [{ domain: 'a@b' }, /"domain" is not a domain/],
    [{ muc: 'conference.example.org/x' }, /"muc" is not a domain/],
    [{ focus: 'a@b@c' }, /"focus" is not a JID/],
    [{ websockets: 'ws://x/' }, /unknown field "websockets"/],
    [{ guestDomain: 'guest.example.org' }, /"guestDomain" needs "domain"/],
    [{ domain: 'example.org', guestDomain: 'a@guest.example.org' }, /"guestDomain" is not a domain/],
  ];
  for (const [raw, want] of bad) {
    assert.throws(() => siteConfig(raw, page), (err) => err instanceof SiteConfigError && want.test(err.message) && err.message.startsWith('config.json: '), JSON.stringify(raw));
  }
});

/** answer makes a fetch that answers every request with status, type and body, and records the URLs. */
function answer(status, type, body) {
  const asked = [];
  const fetchFn = async (url) => {
    asked.push(url);
    return { status, ok: status >= 200 && status < 300, headers: { get: (n) => (n.toLowerCase() === 'content-type' ? type : null) }, text: async () => body };
  };
  return { fetchFn, asked };
}

test('loadSiteConfig reads /config.json; none (404, or an HTML page for any path) is parley\'s own server', async () => {
  const ok = answer(200, 'application/json', JSON.stringify({ websocket: 'ws://127.0.0.1:5280/xmpp-websocket', domain: 'example.test' }));
  const c = await loadSiteConfig(ok.fetchFn, page);
  assert.deepEqual(ok.asked, [CONFIG_PATH]);
  assert.equal(CONFIG_PATH, '/config.json');
  assert.equal(c.url, 'ws://127.0.0.1:5280/xmpp-websocket');
  assert.equal(c.domain, 'example.test');
  assert.equal(c.learnDomain, false);
  assert.deepEqual(await loadSiteConfig(answer(404, 'text/plain', 'not found').fetchFn, page), siteConfig(null, page));
  assert.deepEqual(await loadSiteConfig(answer(200, 'text/html; charset=utf-8', '<!doctype html>').fetchFn, page), siteConfig(null, page));
  // A static server that does not know .json still gets read.
  assert.equal((await loadSiteConfig(answer(200, 'application/octet-stream', '{"domain":"d.example"}').fetchFn, page)).domain, 'd.example');
});

test('loadSiteConfig: a config that is there but broken, or a failing server, is an error', async () => {
  await assert.rejects(loadSiteConfig(answer(200, 'application/json', '{"domain": ').fetchFn, page), /config.json: not JSON/);
  await assert.rejects(loadSiteConfig(answer(500, 'text/plain', 'oops').fetchFn, page), /config.json: the web server answered 500/);
  await assert.rejects(loadSiteConfig(async () => { throw new TypeError('NetworkError'); }, page), /config.json: could not be fetched \(NetworkError\)/);
  await assert.rejects(loadSiteConfig(answer(200, 'application/json', '{"muc": 7}').fetchFn, page), SiteConfigError);
});
