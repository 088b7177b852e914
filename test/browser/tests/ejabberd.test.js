// The web client against Debian's ejabberd (issue 16, docs/EXTERNAL-XMPP.md),
// as prosody.test.js does against Prosody: the test writes an ejabberd
// config on loopback (WebSocket, the focus as a component, one MUC module
// for the rooms and the brewery, an anonymous host for guests), runs
// `ejabberdctl foreground` (as root: Debian's ejabberdctl switches to the
// ejabberd user), makes accounts with ejabberdctl, starts `parley focus`
// as its component and one `parley bridge`, and serves the web client from
// plain static servers whose config.json points at ejabberd. A Chromium
// logs in with an account (a site without guestDomain); a Firefox comes
// as a guest (SASL ANONYMOUS on guest.<domain>, a site whose config.json
// names it as guestDomain); each sends its camera in simulcast, and they
// see and hear each other.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync, mkdirSync, mkdtempSync, rmSync, chownSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { closeAll, waitUntil } from '../lib/browsers.js';
import { DOMAIN, SECRET, Processes, freePort, tail, startParley, serveClient, openPage, joinWithAccount, joinAsGuest, checkCall } from '../lib/extxmpp.js';

const GUESTS = `guest.${DOMAIN}`;

const dir = mkdtempSync(path.join(tmpdir(), 'parley-ejabberd-'));
// ejabberd's own folder, which the ejabberd user owns (dir is root's, 0700).
const edir = mkdtempSync(path.join(tmpdir(), 'parley-ejabberd-server-'));
const procs = new Processes(dir);
const node = `parleybrowser${process.pid}@localhost`;
/** @type {import('../lib/browsers.js').Participant[]} */
const people = [];
/** @type {import('node:http').Server[]} */
const sites = [];
/** @type {((...args: string[]) => import('node:child_process').SpawnSyncReturns<string>)|null} */
let ctl = null;
after(async () => {
  await closeAll(people);
  procs.killAll();
  for (const s of sites) s.close();
  if (ctl) {
    ctl('stop');
    // Erlang started epmd, a daemon that outlives the node: once the node
    // is gone, stop it unless another node still uses it.
    const names = () => spawnSync('epmd', ['-names'], { encoding: 'utf8' }).stdout ?? '';
    const end = performance.now() + 15_000;
    while (names().includes(`name ${node.split('@')[0]} `) && performance.now() < end) await new Promise((r) => setTimeout(r, 200));
    if (!names().includes('name ')) spawnSync('epmd', ['-kill']);
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(edir, { recursive: true, force: true });
});

/**
 * ejabberdConfig is what docs/EXTERNAL-XMPP.md asks of ejabberd, on
 * loopback: guests (SASL ANONYMOUS) on a host of their own, the MUC module
 * on the users' host only (append_host_config; in modules, the guest host
 * would start a second copy for the same MUC domains).
 */
function ejabberdConfig(wsPort, compPort) {
  return `hosts: [${DOMAIN}, ${GUESTS}]
loglevel: info
log_rotate_count: 0
auth_method: internal
host_config:
  ${GUESTS}:
    auth_method: anonymous
    anonymous_protocol: sasl_anon
listen:
  - port: ${wsPort}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /xmpp-websocket: ejabberd_http_ws
  - port: ${compPort}
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      focus.${DOMAIN}:
        password: "${SECRET}"
modules:
  mod_disco: {}
  mod_ping: {}
append_host_config:
  ${DOMAIN}:
    modules:
      mod_muc:
        hosts: [conference.${DOMAIN}, internal.${DOMAIN}]
        access_create: all
        default_room_options:
          anonymous: false
          public: true
`;
}

/** listening says whether something accepts TCP on a loopback port. @param {number} port */
function listening(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

test('Chromium with an ejabberd account and Firefox as a guest on its anonymous host call through parley focus and parley bridge, in simulcast', async () => {
  assert.equal(process.getuid?.(), 0, "Debian's ejabberdctl runs only as root (it switches to the ejabberd user) or as that user");
  const [wsPort, compPort] = [await freePort(), await freePort()];
  // The ejabberd user (Debian's package makes it), from /etc/passwd.
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('ejabberd:'));
  assert.ok(entry, 'no ejabberd user: is ejabberd installed? (scripts/test.sh installs it)');
  const [uid, gid] = entry.split(':').slice(2, 4).map(Number);
  for (const sub of ['spool', 'logs']) mkdirSync(path.join(edir, sub), { recursive: true });
  writeFileSync(path.join(edir, 'ejabberd.yml'), ejabberdConfig(wsPort, compPort));
  // Erlang's distribution (epmd, the node's port) on loopback.
  writeFileSync(path.join(edir, 'ejabberdctl.cfg'), `ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\nERL_EPMD_ADDRESS=127.0.0.1\nINET_DIST_INTERFACE=127.0.0.1\nEJABBERD_PID_PATH=${edir}/ejabberd.pid\n`);
  writeFileSync(path.join(edir, 'inetrc'), '{lookup,[file,native]}.\n{host,{127,0,0,1}, ["localhost"]}.\n');
  chownSync(edir, uid, gid);
  for (const f of readdirSync(edir)) chownSync(path.join(edir, f), uid, gid);
  const args = ['--config-dir', edir, '--config', path.join(edir, 'ejabberd.yml'), '--ctl-config', path.join(edir, 'ejabberdctl.cfg'),
    '--logs', path.join(edir, 'logs'), '--spool', path.join(edir, 'spool'), '--node', node];
  ctl = (...more) => spawnSync('ejabberdctl', [...args, ...more], { encoding: 'utf8' });
  const ejabberd = procs.run('ejabberd', 'ejabberdctl', [...args, 'foreground']);
  const elog = () => `${ejabberd.tail()}\n--- ejabberd.log:\n${tail(path.join(edir, 'logs', 'ejabberd.log'))}`;
  for (const port of [wsPort, compPort]) {
    await waitUntil(() => listening(port), 60_000, () => `ejabberd never listened on ${port}:\n${elog()}`);
  }
  for (const [user, pw] of [['jvb', 'bridge-secret'], ['alice', 'alice password']]) {
    const r = ctl('register', user, DOMAIN, pw);
    assert.equal(r.status, 0, `ejabberdctl register ${user}: ${r.stdout}${r.stderr}`);
  }
  const { bridgePort } = await startParley(procs, { wsPort, compPort, bridgePassword: 'bridge-secret', serverLog: elog });

  // Two sites, one config each: without a guest host (accounts only), and
  // with one (guests only).
  const config = { websocket: `ws://127.0.0.1:${wsPort}/xmpp-websocket`, domain: DOMAIN, muc: `conference.${DOMAIN}`, focus: `focus.${DOMAIN}` };
  for (const c of [config, { websocket: config.websocket, domain: DOMAIN, guestDomain: GUESTS }]) sites.push(await serveClient(c));
  const [accounts, guests] = sites.map((s) => `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (s.address()).port}`);
  const alice = await openPage(accounts, 'ejabberd-call', 'alice', 'chromium');
  people.push(alice);
  await joinWithAccount(alice, 'ejabberd-call');
  const bob = await openPage(guests, 'ejabberd-call', 'bob', 'firefox');
  people.push(bob);
  await joinAsGuest(bob, 'ejabberd-call', GUESTS);
  await checkCall(people, bridgePort);
});
