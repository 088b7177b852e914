// Logging in from the meeting room's pages (web/static/app.js, ui/prejoin.js,
// ui/session.js), in Chromium and Firefox: a meeting link with a token
// (?jwt=) logs in with the token's name, and a forged one says why it was
// refused instead of becoming a guest; on a server without guests
// (--no-anonymous) the pre-join page asks for an account, refuses a wrong
// password in words and logs in with the right one; a guest keeps a
// resumption token and comes back as the same guest after a dropped
// connection and after a reload.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startParley } from '../lib/parley.js';
import { launch, join, waitUntil, diagnose, closeAll } from '../lib/browsers.js';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const catalogue = (lang) => JSON.parse(readFileSync(new URL(`../../../web/static/i18n/${lang}.json`, import.meta.url), 'utf8'));
/** axe runs axe-core on the page and returns its serious and critical findings. */
async function axe(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
}

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => {
    const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
    s.close(() => resolve(port));
  });
});

const secrets = mkdtempSync(path.join(tmpdir(), 'parley-login-ui-'));
writeFileSync(path.join(secrets, 'jwt'), 'a shared secret for the login test\n');
writeFileSync(path.join(secrets, 'admin'), 'admin-token-for-the-login-test\n');
const adminPort = await freePort();
const open = await startParley({
  args: ['--jwt-secret-file', path.join(secrets, 'jwt'), '--admin', `127.0.0.1:${adminPort}`,
    '--admin-token-file', path.join(secrets, 'admin')],
});
const closed = await startParley({ users: { maria: 'maria password' }, args: ['--no-anonymous'] });
const people = [];
after(async () => {
  await closeAll(people);
  await open.stop();
  await closed.stop();
  rmSync(secrets, { recursive: true, force: true });
});

/** mint asks the admin API for a token. */
async function mint(body) {
  const res = await fetch(`http://127.0.0.1:${adminPort}/api/tokens`, {
    method: 'POST', body: JSON.stringify(body),
    headers: { Authorization: 'Bearer admin-token-for-the-login-test' },
  });
  assert.equal(res.status, 200);
  return (await res.json()).token;
}

/** visit opens a page at url in a new browser of kind, collecting its console. */
async function visit(kind, url, name, lang = '') {
  const browser = await launch(kind, lang ? { lang } : {});
  const page = await browser.newPage();
  const p = { name, kind, browser, page, openedAt: performance.now(), console: [] };
  page.on('console', (m) => p.console.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => p.console.push(`pageerror: ${e.message}`));
  people.push(p);
  await page.goto(url);
  return p;
}

const visible = (p, id) => p.page.evaluate((i) => !document.getElementById(i).hidden, id);
const inCall = (p) => p.page.evaluate(() => window.parley?.status?.phase === 'in-call');
/** names reads the People list's visible names by nick. */
const names = (p) => p.page.$$eval('#people li', (lis) => Object.fromEntries(lis.map((li) => [li.dataset.nick, li.querySelector('.pname').textContent])));

for (const kind of ['chromium', 'firefox']) {
  test(`${kind}: a meeting link with a token logs in with the token's name; a forged one is refused in words`, async () => {
    const token = await mint({ user: `tess-${kind}`, name: `Tess ${kind}` });
    const host = await join(open.base, `linked-${kind}`, 'hal', kind === 'chromium' ? 'firefox' : 'chromium');
    people.push(host);
    const tess = await visit(kind, `${open.base}/linked-${kind}?jwt=${token}`, 'tess');
    await waitUntil(() => visible(tess, 'prejoin'), 15_000, () => diagnose([tess]));
    assert.equal(await tess.page.$eval('#prejoin-name', (i) => i.value), `Tess ${kind}`, 'the name field holds the token\'s name');
    assert.equal(await visible(tess, 'prejoin-account-box'), false);
    await tess.page.click('#prejoin-join');
    await waitUntil(() => inCall(tess), 20_000, () => diagnose([tess]));
    assert.match(await tess.page.evaluate(() => window.parley.call.client.jid), /^tok-[0-9a-f]+@/);
    // The others see the token's name.
    await host.page.click('#toggle-people');
    await waitUntil(async () => Object.values(await names(host)).includes(`Tess ${kind}`), 15_000,
      async () => `hal's list: ${JSON.stringify(await names(host))}`);

    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const mallory = await visit(kind, `${open.base}/linked-${kind}?jwt=${forged}&name=mal&join=1`, 'mal');
    await waitUntil(() => visible(mallory, 'left'), 20_000, () => diagnose([mallory]));
    assert.equal(await mallory.page.$eval('#left-title', (e) => e.textContent), 'Your meeting link was refused');
    assert.match(await mallory.page.$eval('#left-reason', (e) => e.textContent), /token refused \(signature\)/);
    assert.deepEqual(await axe(mallory.page), [], 'the refused link\'s screen');
    assert.equal(await mallory.page.evaluate(() => window.parley.call.client.jid), null, 'a refused token became a guest');
    assert.ok(!Object.keys(await names(host)).includes('mal'), 'mal entered the room');
    await closeAll(people.splice(0, people.length));
  });

  test(`${kind}: without guests, the pre-join page asks for an account and logs in with it`, async () => {
    const maria = await visit(kind, `${closed.base}/members`, 'maria');
    await waitUntil(() => visible(maria, 'prejoin'), 15_000, () => diagnose([maria]));
    await maria.page.type('#prejoin-name', 'Maria');
    await maria.page.click('#prejoin-join');
    // The server takes no guests: the page comes back asking for an account.
    await waitUntil(() => visible(maria, 'prejoin-account-box'), 20_000, () => diagnose([maria]));
    assert.match(await maria.page.$eval('#prejoin-error', (e) => e.textContent), /needs you to log in/);
    assert.equal(await maria.page.$eval('#prejoin-name', (i) => i.value), 'Maria');
    assert.deepEqual(await axe(maria.page), [], 'the pre-join page asking for an account');
    await maria.page.type('#prejoin-user', 'maria');
    await maria.page.type('#prejoin-secret', 'wrong password');
    await maria.page.click('#prejoin-join');
    await waitUntil(async () => /did not accept/.test(await maria.page.$eval('#prejoin-error', (e) => e.textContent)), 20_000, () => diagnose([maria]));
    assert.equal(await visible(maria, 'prejoin-account-box'), true);
    assert.equal(await maria.page.$eval('#prejoin-user', (i) => i.value), 'maria', 'the account name was kept');
    assert.equal(await maria.page.$eval('#prejoin-secret', (i) => i.value), '', 'the wrong password was kept');
    await maria.page.type('#prejoin-secret', 'maria password');
    await maria.page.click('#prejoin-join');
    await waitUntil(() => inCall(maria), 20_000, () => diagnose([maria]));
    assert.match(await maria.page.evaluate(() => window.parley.call.client.jid), /^maria@/);
    await closeAll(people.splice(0, people.length));
  });

  test(`${kind}: a guest keeps a resumption token and comes back as the same guest`, async () => {
    const gus = await visit(kind, `${open.base}/again-${kind}?name=gus&join=1`, 'gus');
    await waitUntil(() => inCall(gus), 20_000, () => diagnose([gus]));
    const first = await gus.page.evaluate(() => window.parley.call.client.jid.split('/')[0]);
    const kept = await waitUntil(() => gus.page.evaluate(() => sessionStorage.getItem('parley.resume')), 10_000, () => diagnose([gus]));
    // Its reconnections use the token too.
    assert.ok(await gus.page.evaluate((t) => window.parley.call.client.url.includes(`resume=${encodeURIComponent(t)}`), kept));
    // The WebSocket drops: the client reconnects as the same guest and is back in the call.
    await gus.page.evaluate(() => {
      window.__drops = 0;
      window.parley.call.client.on('offline', () => window.__drops++);
      window.parley.call.client.ws.close();
    });
    await waitUntil(() => gus.page.evaluate(() => window.__drops > 0 && window.parley.call.client.state === 'online'
      && window.parley.status.phase === 'in-call'), 30_000, () => diagnose([gus]));
    assert.equal(await gus.page.evaluate(() => window.parley.call.client.jid.split('/')[0]), first, 'a reconnection changed the guest');
    await gus.page.reload();
    await waitUntil(() => inCall(gus), 20_000, () => diagnose([gus]));
    assert.equal(await gus.page.evaluate(() => window.parley.call.client.jid.split('/')[0]), first);
    // A token the server refuses is dropped, and the guest logs in afresh.
    await gus.page.evaluate(() => sessionStorage.setItem('parley.resume', 'not-a-token'));
    await gus.page.reload();
    await waitUntil(() => inCall(gus), 20_000, () => diagnose([gus]));
    assert.notEqual(await gus.page.evaluate(() => window.parley.call.client.jid.split('/')[0]), first);
    await closeAll(people.splice(0, people.length));
  });
}

test('the account fields and a refused link read in the browser\'s language (French Chromium, Spanish Firefox)', async () => {
  const fr = catalogue('fr');
  const marie = await visit('chromium', `${closed.base}/membres?name=Marie&join=1`, 'marie', 'fr-FR');
  await waitUntil(() => visible(marie, 'prejoin-account-box'), 20_000, () => diagnose([marie]));
  assert.equal(await marie.page.$eval('#prejoin-account-box legend', (e) => e.textContent), fr['login.title']);
  assert.equal(await marie.page.$eval('#prejoin-error', (e) => e.textContent), fr['login.needed']);
  assert.equal(await marie.page.$eval('label[for="prejoin-user"]', (e) => e.textContent), fr['login.username']);
  const es = catalogue('es');
  const forged = (await mint({ user: 'eva', name: 'Eva' })).slice(0, -4) + 'AAAA';
  const eva = await visit('firefox', `${open.base}/sala?jwt=${forged}&name=eva&join=1`, 'eva', 'es-ES');
  await waitUntil(() => visible(eva, 'left'), 20_000, () => diagnose([eva]));
  assert.equal(await eva.page.$eval('#left-title', (e) => e.textContent), es['login.tokenRefusedTitle']);
  assert.ok((await eva.page.$eval('#left-reason', (e) => e.textContent)).startsWith(es['login.tokenRefused'].split('{detail}')[0]));
  await closeAll(people.splice(0, people.length));
});
