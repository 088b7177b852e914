// When each of the page's files arrives in a fresh browser context (issue
// 20, "Join time"): not a test, it prints. For each browser, ROUNDS page
// loads of a room straight into the call; per load the navigation's first
// byte, last byte, domInteractive and DOMContentLoaded (start, end) and
// protocol, and for the last load every resource's start, request start,
// first byte and last byte (ms since navigation start).
//
//   PARLEY_BIN=... JOIN_HOST=10.213.0.2 ip netns exec NS node bench/resource-timing.js [ROUNDS]
//   KINDS=chromium (default chromium,firefox)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startParley, makeCert, sleep } from '../lib/parley.js';
import { launch, closeAll } from '../lib/browsers.js';
const host = process.env.JOIN_HOST;
const tls = makeCert(mkdtempSync(path.join(tmpdir(), 'parley-diag-')), host);
const parley = await startParley({ host, tls });
const opts = { insecureCerts: true };
const kinds = (process.env.KINDS ?? 'chromium,firefox').split(',');
for (const kind of kinds) {
  const b = await launch(kind, opts);
  for (let r = 0; r < Number(process.argv[2] ?? 2); r++) {
    const ctx = await b.createBrowserContext();
    const page = await ctx.newPage();
    await page.goto(`${parley.base}/diag?name=x${r}&join=1`, { waitUntil: 'load' });
    await sleep(1500);
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource').map((e) => [e.name.replace(/^.*\/static\//, ''), Math.round(e.startTime), Math.round(e.requestStart), Math.round(e.responseStart), Math.round(e.responseEnd), e.nextHopProtocol]);
      return { nav: [nav.responseStart, nav.responseEnd, nav.domInteractive, nav.domContentLoadedEventStart, nav.domContentLoadedEventEnd, nav.nextHopProtocol].map((x) => typeof x === 'number' ? Math.round(x) : x), res };
    });
    console.log(kind, r, JSON.stringify(t.nav));
    if (r === Number(process.argv[2] ?? 2) - 1) for (const x of t.res) console.log('  ', x.join(' '));
    await ctx.close();
  }
  await closeAll([{ browser: b }]);
}
await parley.stop();
