// Screen sharing from the call page's button, in Chromium and Firefox: the
// others receive and decode the share as a second video of the sharer,
// shown large (speaker view) while the sharer's camera tile goes on; the
// browser's own "stop sharing" is noticed; the S shortcut starts a share.
//
// Chromium shares its fake screen (getDisplayMedia with the fake UI). Headless
// Firefox has no screen to capture (getDisplayMedia fails with NotFoundError),
// so there the page's getDisplayMedia returns a canvas track; the rest of the
// path (button, library, SFU, the other's tile) is the real one.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startParley, sleep } from '../lib/parley.js';
import { join, waitUntil, diagnose, closeAll, waitForMedia, mesh } from '../lib/browsers.js';

const parley = await startParley();
const people = [];
after(async () => {
  await closeAll(people);
  await parley.stop();
});

/** screenFrames reads, in rx's page, frames decoded from nick's screen track (-1: no screen track). */
const screenFrames = (rx, nick) => rx.page.evaluate(async (n) => {
  const m = window.parley.state.members.get(n);
  const v = m?.videos.find((x) => x.source === 'screen');
  if (!v) return -1;
  let frames = 0;
  (await v.receiver.getStats()).forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded ?? 0;
  });
  return frames;
}, nick);

/** tileView reads what rx shows of nick: its tiles, which is large, and whether they have pictures. */
const tileView = (rx, nick) => rx.page.evaluate((n) => {
  const tile = (key) => document.querySelector(`.tile[data-nick="${key}"]`);
  const desc = (t) => t && { inGrid: t.isConnected, main: t.classList.contains('main'), width: t.querySelector('video').videoWidth, tracks: t.querySelector('video').srcObject?.getVideoTracks().length ?? 0, label: t.getAttribute('aria-label') };
  return { camera: desc(tile(n)), screen: desc(tile(`${n}#screen`)), layout: window.parley.state.layout };
}, nick);

async function expectShare(sharer, rx) {
  await waitUntil(async () => (await screenFrames(rx, sharer.name)) > 0, 30_000,
    async () => `${rx.name} decodes no screen from ${sharer.name}: ${JSON.stringify(await tileView(rx, sharer.name))}\n${await diagnose([sharer, rx])}`);
  const a = await screenFrames(rx, sharer.name);
  await sleep(1500);
  const b = await screenFrames(rx, sharer.name);
  assert.ok(b > a, `${rx.name}: ${sharer.name}'s screen frames stalled at ${a} -> ${b}`);
  await waitUntil(async () => {
    const v = await tileView(rx, sharer.name);
    return v.screen?.main && v.screen.width > 0 && v.camera?.inGrid && v.camera.width > 0 && v.layout === 'speaker';
  }, 15_000, async () => `${rx.name}'s view of ${sharer.name}: ${JSON.stringify(await tileView(rx, sharer.name))}`);
  // The camera goes on beside the share.
  await waitForMedia([rx], new Map([[rx.name, [sharer.name]]]), 15_000);
}

async function expectNoShare(sharer, rx) {
  await waitUntil(async () => (await tileView(rx, sharer.name)).screen === null && (await screenFrames(rx, sharer.name)) === -1, 20_000,
    async () => `${rx.name} still shows ${sharer.name}'s screen: ${JSON.stringify(await tileView(rx, sharer.name))}`);
}

test('a screen shared from Chromium is received and decoded by Firefox as a second video, and stopping from the browser is noticed', async () => {
  const sara = await join(parley.base, 'demo', 'sara', 'chromium');
  const finn = await join(parley.base, 'demo', 'finn', 'firefox');
  people.push(sara, finn);
  await waitForMedia(people, mesh(['sara', 'finn']), 60_000);
  await sara.page.click('#toggle-share');
  await waitUntil(() => sara.page.$eval('#toggle-share', (b) => b.getAttribute('aria-pressed') === 'true'), 10_000, () => diagnose([sara]));
  assert.equal(await sara.page.$eval('#toggle-share', (b) => b.getAttribute('aria-label')), 'Stop the screen share');
  await expectShare(sara, finn);
  // The browser's own "stop sharing" ends the capture track.
  await sara.page.evaluate(() => {
    const track = window.parley.call.screenTrack;
    track.stop();
    track.dispatchEvent(new Event('ended'));
  });
  await waitUntil(() => sara.page.$eval('#toggle-share', (b) => b.getAttribute('aria-pressed') === 'false'), 10_000, () => diagnose([sara]));
  await expectNoShare(sara, finn);
});

test('a screen shared from Firefox with the S shortcut is received and decoded by Chromium as a second video; the button stops it', async () => {
  const [sara, finn] = people;
  await finn.page.evaluate(() => {
    navigator.mediaDevices.getDisplayMedia = async () => {
      const c = Object.assign(document.createElement('canvas'), { width: 1280, height: 720 });
      const g = c.getContext('2d');
      let i = 0;
      setInterval(() => {
        g.fillStyle = `hsl(${(i += 7) % 360} 60% 50%)`;
        g.fillRect(0, 0, c.width, c.height);
        g.fillStyle = '#fff';
        g.font = '64px sans-serif';
        g.fillText(`slide ${i}`, 100, 200);
      }, 100);
      return c.captureStream(10);
    };
  });
  await finn.page.keyboard.press('s');
  await waitUntil(() => finn.page.$eval('#toggle-share', (b) => b.getAttribute('aria-pressed') === 'true'), 10_000, () => `S did not start a share\n${finn.console.slice(-5).join('\n')}`);
  await expectShare(finn, sara);
  await finn.page.click('#toggle-share');
  assert.equal(await finn.page.$eval('#toggle-share', (b) => b.getAttribute('aria-pressed')), 'false');
  await expectNoShare(finn, sara);
});
