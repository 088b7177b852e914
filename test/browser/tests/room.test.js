// The meeting room as its users see it, in Chromium and Firefox together:
// everyone (oneself included) in everyone's People list through joins and
// leaves; mute, camera off, raised hand and reactions seen by the others
// within a second; a moderator's mute through the room; private chat reaching only its recipient; a password
// room joined from the pre-join page with the password and refused without
// it; the debug file.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startParley } from '../lib/parley.js';
import { launch, join, waitUntil, diagnose, closeAll, waitForMedia, mesh } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
const downloads = mkdtempSync(path.join(tmpdir(), 'parley-debug-'));
after(async () => {
  await closeAll(people);
  await parley.stop();
  rmSync(downloads, { recursive: true, force: true });
});

/** peopleList reads a page's People list: the nicks in order and the heading. */
const peopleList = (p) => p.page.evaluate(() => ({
  nicks: [...document.querySelectorAll('#people li')].map((li) => li.dataset.nick),
  self: document.querySelector('#people li.self')?.dataset.nick ?? null,
  title: document.getElementById('people-title').textContent,
}));

/** waitPeople waits until every page's list holds exactly the nicks given. */
async function waitPeople(ps, nicks) {
  const want = [...nicks].sort();
  for (const p of ps) {
    await waitUntil(async () => {
      const l = await peopleList(p);
      return JSON.stringify([...l.nicks].sort()) === JSON.stringify(want) && l.self === p.name && l.title === `People (${want.length})`;
    }, 20_000, async () => `${p.name}'s People list: ${JSON.stringify(await peopleList(p))}, want ${want}\n${await diagnose(ps)}`);
  }
}

test('every People list holds everyone, oneself included, through joins and leaves', async () => {
  const ana = await join(parley.base, 'standup', 'ana', 'chromium');
  people.push(ana);
  await waitPeople([ana], ['ana']);
  const ben = await join(parley.base, 'standup', 'ben', 'firefox');
  people.push(ben);
  await waitPeople([ana, ben], ['ana', 'ben']);
  const cy = await join(parley.base, 'standup', 'cy', 'chromium');
  people.push(cy);
  await waitPeople([ana, ben, cy], ['ana', 'ben', 'cy']);
  await waitForMedia([ana, ben, cy], mesh(['ana', 'ben', 'cy']), 60_000);
  // Each remote tile grades its connection from getStats (loopback: good)
  // and says the bitrate it receives from that participant.
  for (const [p, other] of [[ana, 'ben'], [ben, 'cy'], [cy, 'ana']]) {
    await waitUntil(() => p.page.evaluate((n) => {
      const q = document.querySelector(`.tile[data-nick="${n}"] .quality`);
      const m = /^Connection: good, (\d+) kbit\/s$/.exec(q?.getAttribute('aria-label') ?? '');
      return q && !q.hidden && m && Number(m[1]) > 0;
    }, other), 15_000, () => `${p.name} shows no connection quality and bitrate for ${other}`);
  }
});

/**
 * watch makes a page note, with its own clock, when a condition on the
 * DOM first holds (polled every 20 ms); seenAt reads that time.
 */
async function watch(p, key, fn) {
  await p.page.evaluate((k, src) => {
    window.__seen ??= {};
    const cond = new Function(`return (${src})();`);
    const id = setInterval(() => {
      if (cond()) {
        window.__seen[k] = Date.now();
        clearInterval(id);
      }
    }, 20);
  }, key, fn.toString());
}
const seenAt = (p, key) => p.page.evaluate((k) => window.__seen?.[k] ?? 0, key);
const clickAt = (p, sel) => p.page.evaluate((s) => {
  const t = Date.now();
  document.querySelector(s).click();
  return t;
}, sel);

/** seenWithin checks that every watcher saw key within ms of clickedAt (all clocks are this machine's). */
async function seenWithin(watchers, key, clickedAt, ms) {
  for (const w of watchers) {
    const at = await waitUntil(() => seenAt(w, key), 10_000, async () => `${w.name} never saw ${key}\n${await diagnose(watchers)}`);
    assert.ok(at - clickedAt < ms, `${w.name} saw ${key} ${at - clickedAt} ms after the click`);
  }
}

test('mute, camera off, raised hand and a reaction are seen by the others within a second', async () => {
  const [ana, ben, cy] = people;
  const others = [ben, cy];
  for (const w of others) {
    await watch(w, 'muted', () => document.querySelector('.tile[data-nick="ana"] .badge.muted')?.hidden === false
      && document.querySelector('#people li[data-nick="ana"] .badge.muted') !== null);
  }
  await seenWithin(others, 'muted', await clickAt(ana, '#toggle-mic'), 1000);
  assert.equal(await ana.page.evaluate(() => window.parley.call.cfg.localTracks().audio.enabled), false);
  assert.equal(await ana.page.$eval('.tile.self .badge.muted', (b) => b.hidden), false, 'own tile shows no muted icon');

  for (const w of others) {
    await watch(w, 'cameraOff', () => {
      const tile = document.querySelector('.tile[data-nick="ana"]');
      return tile && !tile.querySelector('.avatar').hidden && tile.querySelector('video').hidden && tile.querySelector('.avatar').textContent === 'A';
    });
  }
  await seenWithin(others, 'cameraOff', await clickAt(ana, '#toggle-camera'), 1000);
  assert.deepEqual(await ana.page.$eval('.tile.self', (t) => [t.querySelector('.avatar').hidden, t.querySelector('.avatar').textContent]), [false, 'A'],
    'own tile shows no avatar with the camera off');

  for (const w of others) {
    await watch(w, 'hand', () => document.querySelector('.tile[data-nick="ana"] .badge.hand')?.hidden === false
      && document.querySelector('#people li[data-nick="ana"] .badge.hand') !== null);
  }
  await seenWithin(others, 'hand', await clickAt(ana, '#toggle-hand'), 1000);

  for (const w of others) await watch(w, 'reaction', () => document.querySelector('.tile[data-nick="ana"] .reaction')?.textContent === '🎉');
  await ana.page.click('#open-reactions');
  await seenWithin(others, 'reaction', await clickAt(ana, '#reactions-menu [data-emoji="🎉"]'), 1000);

  // Unmuting, the camera back on and the hand down are seen too.
  await ana.page.click('#toggle-mic');
  await ana.page.click('#toggle-camera');
  await ana.page.click('#toggle-hand');
  for (const w of others) {
    await waitUntil(() => w.page.evaluate(() => {
      const tile = document.querySelector('.tile[data-nick="ana"]');
      return tile.querySelector('.badge.muted').hidden && tile.querySelector('.badge.hand').hidden && tile.querySelector('.avatar').hidden;
    }), 10_000, () => diagnose([w]));
  }
});

test('a late joiner sees a raised hand and a muted microphone raised before it came', async () => {
  const [ana, ben] = people;
  await ben.page.keyboard.press('r'); // shortcut: raise hand
  await ben.page.keyboard.press('m'); // shortcut: mute
  assert.equal(await ben.page.$eval('#toggle-hand', (b) => b.getAttribute('aria-pressed')), 'true');
  const dee = await join(parley.base, 'standup', 'dee', 'firefox');
  people.push(dee);
  await waitUntil(() => dee.page.evaluate(() => {
    const tile = document.querySelector('.tile[data-nick="ben"]');
    return tile && !tile.querySelector('.badge.hand').hidden && !tile.querySelector('.badge.muted').hidden;
  }), 20_000, () => diagnose([dee]));
  await ben.page.keyboard.press('r');
  await ben.page.keyboard.press('m');
  await waitUntil(() => ana.page.evaluate(() => document.querySelector('.tile[data-nick="ben"] .badge.hand').hidden), 10_000, () => diagnose([ana]));
});

test('private chat reaches only its recipient; links are links, HTML stays text', async () => {
  const [ana, ben, cy, dee] = people;
  const chatText = (p) => p.page.$eval('#chat-log', (e) => e.textContent);
  await ana.page.click('#toggle-chat');
  await waitUntil(() => ana.page.evaluate(() => [...document.querySelectorAll('#chat-to option')].some((o) => o.value === 'ben')), 10_000, () => diagnose([ana]));
  await ana.page.select('#chat-to', 'ben');
  await ana.page.type('#chat-input', 'secret for ben <img src=x onerror=alert(1)> https://example.org/a?b=1.');
  await ana.page.keyboard.press('Enter');
  await waitUntil(async () => (await chatText(ben)).includes('secret for ben'), 10_000, async () => `ben's chat: ${await chatText(ben)}`);
  const got = await ben.page.evaluate(() => {
    const li = [...document.querySelectorAll('#chat-log li')].find((l) => l.textContent.includes('secret for ben'));
    return { cls: li.className, from: li.querySelector('.from').textContent, imgs: li.querySelectorAll('img').length, links: [...li.querySelectorAll('a')].map((a) => [a.href, a.rel]) };
  });
  assert.deepEqual(got, { cls: 'private', from: 'ana (privately)', imgs: 0, links: [['https://example.org/a?b=1', 'noopener noreferrer nofollow']] });
  // ben did not have the chat open: the button counts the unread message.
  assert.equal(await ben.page.$eval('#chat-unread', (e) => [e.hidden, e.textContent].join()), 'false,1');
  // A message to everyone sent after the private one reaches cy and dee; the private one never does.
  await ana.page.select('#chat-to', '');
  await ana.page.type('#chat-input', 'hello everyone');
  await ana.page.keyboard.press('Enter');
  for (const p of [cy, dee, ben]) await waitUntil(async () => (await chatText(p)).includes('hello everyone'), 10_000, async () => `${p.name}'s chat: ${await chatText(p)}`);
  for (const p of [cy, dee]) assert.ok(!(await chatText(p)).includes('secret'), `${p.name} got the private message`);
  assert.ok((await chatText(ana)).includes('You to ben (privately)'), 'the sender sees no record of the private message');
});

test('L switches to speaker view with one large tile; a pinned tile is the large one', async () => {
  const [ana] = people;
  const view = () => ana.page.evaluate(() => ({
    speaker: document.getElementById('grid').classList.contains('speaker-view'),
    main: [...document.querySelectorAll('#grid .tile.main')].map((t) => t.dataset.nick),
    tiles: document.querySelectorAll('#grid .tile').length,
    label: document.getElementById('layout-toggle').getAttribute('aria-label'),
  }));
  await ana.page.evaluate(() => document.activeElement?.blur());
  await ana.page.keyboard.press('l');
  let v = await view();
  assert.equal(v.speaker, true);
  assert.equal(v.main.length, 1, JSON.stringify(v));
  assert.notEqual(v.main[0], '', 'speaker view shows ourselves large');
  assert.equal(v.tiles, 4, 'the filmstrip lost tiles');
  assert.equal(v.label, 'Switch to tile view');
  await ana.page.$eval('.tile[data-nick="dee"] .pin', (b) => b.click());
  v = await view();
  assert.deepEqual(v.main, ['dee']);
  assert.equal(await ana.page.$eval('.tile[data-nick="dee"] .pin', (b) => [b.getAttribute('aria-pressed'), b.getAttribute('aria-label')].join()), 'true,Unpin dee');
  await ana.page.click('#layout-toggle');
  v = await view();
  assert.deepEqual([v.speaker, v.main, v.tiles], [false, [], 4]);
});

test('a message the room refuses is reported as not sent', async () => {
  const [ana] = people;
  // A private message to someone who left after being picked comes back as an error.
  await ana.page.evaluate(() => {
    const to = document.getElementById('chat-to');
    to.append(new Option('gone', 'nobody-here'));
    to.value = 'nobody-here';
  });
  await ana.page.type('#chat-input', 'lost words');
  await ana.page.keyboard.press('Enter');
  await waitUntil(() => ana.page.$eval('#chat-log', (e) => e.textContent.includes('Your message “lost words” could not be sent (item-not-found).')), 10_000,
    async () => `ana's chat: ${await ana.page.$eval('#chat-log', (e) => e.textContent)}`);
});

test('People lists shrink as people leave', async () => {
  const [ana, ben, cy, dee] = people;
  await cy.page.click('#leave');
  await waitUntil(() => cy.page.evaluate(() => !document.getElementById('left').hidden), 10_000, () => diagnose([cy]));
  assert.equal(await cy.page.$eval('#left-title', (e) => e.textContent), 'You left the meeting');
  await dee.browser.close();
  await waitPeople([ana, ben], ['ana', 'ben']);
});

test('a moderator removes someone, who reads that they were removed and may rejoin', async () => {
  const [ana, ben] = people;
  // ana made the room: she is its owner, so the panel offers her actions on ben; ben gets none on ana.
  await ana.page.click('#toggle-people');
  const actions = (p, nick) => p.page.$$eval(`#people li[data-nick="${nick}"] .actions button`, (bs) => bs.map((b) => b.getAttribute('aria-label')));
  assert.deepEqual(await actions(ana, 'ben'), ['Mute ben', "Stop ben's camera", 'Make ben a moderator', 'Remove ben from the meeting']);
  assert.deepEqual(await actions(ben, 'ana'), []);
  // Mute: the room mutes ben (the SFU stops forwarding him, moderation-ui.test.js
  // measures it); his client follows and says who did it.
  await ana.page.click('#people li[data-nick="ben"] .act-mute');
  await waitUntil(() => ben.page.$eval('#toggle-mic', (b) => b.getAttribute('aria-pressed') === 'true'), 10_000, () => diagnose([ben]));
  assert.ok(await ben.page.$eval('#chat-log', (e) => e.textContent.includes('ana muted you.')));
  assert.equal(await ben.page.$eval('#muted-notice-text', (e) => e.textContent), 'ana muted you.');
  assert.deepEqual(await ben.page.evaluate(() => window.parley.call.room.self.muted), ['audio']);
  await waitUntil(async () => (await actions(ana, 'ben')).includes('Ask ben to unmute'), 10_000, async () => `ana offers: ${await actions(ana, 'ben')}`);
  assert.ok(!(await actions(ana, 'ben')).includes('Mute ben'));
  // Asking to unmute asks: ben stays muted until he says yes.
  await ana.page.click('#people li[data-nick="ben"] .act-askUnmute');
  await waitUntil(() => ben.page.$eval('#unmute-ask', (e) => !e.hidden), 10_000, () => diagnose([ben]));
  assert.equal(await ben.page.$eval('#unmute-ask-text', (e) => e.textContent), 'ana asks you to unmute.');
  assert.equal(await ben.page.$eval('#toggle-mic', (b) => b.getAttribute('aria-pressed')), 'true');
  await ben.page.click('#unmute-ask-yes');
  await waitUntil(() => ben.page.$eval('#toggle-mic', (b) => b.getAttribute('aria-pressed') === 'false'), 10_000, () => diagnose([ben]));
  await waitUntil(() => ben.page.evaluate(() => window.parley.call.room.self.muted.length === 0), 10_000, () => diagnose([ben]));
  await waitUntil(async () => (await actions(ana, 'ben')).includes('Mute ben'), 10_000, async () => `ana offers: ${await actions(ana, 'ben')}`);
  // ben cannot do the same to ana: his client does not offer it, and ana's ignores a request from a participant.
  await ben.page.evaluate(() => {
    window.parley.extras.ask('ana', 'mute');
    window.parley.extras.sendPrivate('ana', 'ping after the request'); // arrives after the request
  });
  await waitUntil(() => ana.page.$eval('#chat-log', (e) => e.textContent.includes('ping after the request')), 10_000, () => diagnose([ana]));
  assert.equal(await ana.page.$eval('#toggle-mic', (b) => b.getAttribute('aria-pressed')), 'false', 'a participant muted the owner');
  await ana.page.click('#people li[data-nick="ben"] .act-kick');
  await waitUntil(() => ben.page.evaluate(() => !document.getElementById('left').hidden), 10_000, () => diagnose([ben]));
  assert.equal(await ben.page.$eval('#left-title', (e) => e.textContent), 'You were removed');
  assert.equal(await ben.page.$eval('#left', (e) => e.dataset.kind), 'kicked');
  assert.equal(await ben.page.$eval('#rejoin', (e) => e.textContent), 'Rejoin');
  await waitPeople([ana], ['ana']);
  // The rest of the file needs none of these four: two cores run the next calls faster without them.
  await closeAll(people.splice(0, people.length));
});

/** setPassword makes the room a page is in need a password (the page's user must own it). */
const setPassword = (p, secret) => p.page.evaluate(async (pw) => {
  const { iq } = await import('/static/lib/xmpp.js');
  const { x } = await import('/static/lib/xml.js');
  const call = window.parley.call;
  const field = (v, value) => x('field', { var: v }, [x('value', {}, [value])]);
  await call.client.request(iq('set', call.room.jid, x('query', { xmlns: 'http://jabber.org/protocol/muc#owner' }, [
    x('x', { xmlns: 'jabber:x:data', type: 'submit' }, [
      field('FORM_TYPE', 'http://jabber.org/protocol/muc#roomconfig'),
      field('muc#roomconfig_passwordprotectedroom', '1'),
      field('muc#roomconfig_roomsecret', pw),
    ]),
  ])));
}, secret);

/** passwordRoom joins a password room from kind's pre-join page, without the password and with it. */
function passwordRoom(kind) {
  test(`a password room is joined from the pre-join page with its password, and refused without (${kind})`, async () => {
    const owner = await join(parley.base, `vault-${kind}`, 'olga', 'chromium');
    people.push(owner);
    await waitPeople([owner], ['olga']);
    await setPassword(owner, 'open sesame');

    const browser = await launch(kind);
    const page = await browser.newPage();
    const guest = { name: 'gus', kind, browser, page, openedAt: performance.now(), console: [] };
    people.push(guest);
    page.on('pageerror', (e) => guest.console.push(`pageerror: ${e.message}`));
    await page.goto(`${parley.base}/vault-${kind}`);
    await page.waitForSelector('#prejoin-name');
    assert.equal(await page.$eval('#prejoin-password-box', (e) => e.hidden), true, 'a password field before the room asked');
    await page.type('#prejoin-name', 'gus');
    await page.click('#prejoin-join');
    // Refused: back on the pre-join page, asked for the password.
    await waitUntil(() => page.evaluate(() => !document.getElementById('prejoin').hidden && !document.getElementById('prejoin-password-box').hidden),
      20_000, () => diagnose([guest]));
    assert.equal(await page.$eval('#prejoin-error', (e) => e.textContent), 'This room needs a password.');
    assert.equal(await page.$eval('#prejoin-name', (e) => e.value), 'gus');
    await page.type('#prejoin-password', 'wrong one');
    await page.click('#prejoin-join');
    await waitUntil(() => page.$eval('#prejoin-error', (e) => e.textContent === 'That password is not right. Try again.' && !document.getElementById('prejoin').hidden),
      20_000, () => diagnose([guest]));
    assert.deepEqual((await peopleList(owner)).nicks, ['olga'], 'a refused guest is in the room');
    await page.$eval('#prejoin-password', (e) => { e.value = ''; });
    await page.type('#prejoin-password', 'open sesame');
    await page.click('#prejoin-join');
    await waitPeople([owner, guest], ['olga', 'gus']);

    // ?password= in the address works too.
    const quick = await join(parley.base, `vault-${kind}`, 'quinn', kind, { query: 'password=open%20sesame' });
    people.push(quick);
    await waitPeople([owner, guest, quick], ['olga', 'gus', 'quinn']);
  });
}

passwordRoom('chromium');

test('the debug file downloads, parses as JSON and holds no password or token', async () => {
  const guest = people.find((p) => p.name === 'gus' && p.kind === 'chromium');
  // Media first, so that the file has statistics of it.
  await waitForMedia([guest], new Map([['gus', ['olga']]]), 30_000);
  const cdp = await guest.page.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
  await guest.page.click('#open-settings');
  await guest.page.click('#debug-download');
  const file = await waitUntil(() => readdirSync(downloads).find((f) => f.endsWith('.json')), 15_000, () => `no file in ${downloads}: ${readdirSync(downloads)}`);
  const text = readFileSync(path.join(downloads, file), 'utf8');
  const data = JSON.parse(text);
  assert.equal(data.format, 'parley-debug-1');
  assert.match(data.browser, /Chrom/);
  assert.ok(data.signalling.length > 10, `only ${data.signalling.length} signalling frames`);
  assert.ok(data.signalling.some((f) => f.xml.includes('<password>[redacted]</password>')), 'the join with a password is not in the trace');
  assert.ok(data.stats.length >= 1 && data.stats.some((s) => s.reports.some((r) => r.type === 'inbound-rtp')), 'no statistics');
  assert.ok(data.candidates?.local?.type, `no chosen candidates: ${JSON.stringify(data.candidates)}`);
  assert.ok(!text.includes('open sesame') && !text.includes('open%20sesame'), 'the room password is in the file');
  assert.ok(!/password="[^"[]/.test(text), 'a TURN password is in the file');
  // The Firefox round that follows runs faster alone.
  await closeAll(people.splice(0, people.length));
});

passwordRoom('firefox');
