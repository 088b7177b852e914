// The web client against Debian's Prosody (issue 16, docs/EXTERNAL-XMPP.md):
// the test writes a Prosody config on loopback (WebSocket, MUC, brewery,
// the focus as a component), makes accounts with prosodyctl, starts
// `parley focus` (simulcast on, its default) as Prosody's component and
// one `parley bridge` in its brewery, and serves the web client's static
// files from a plain HTTP server with a config.json pointing at Prosody's
// WebSocket. No `parley serve` runs. Prosody keeps guests (SASL ANONYMOUS)
// on a VirtualHost of their own, guest.<domain>: pages whose config.json
// names it as "guestDomain" log in there as guests, while pages without it
// find no guest login on <domain> and ask for an account. A Chromium logs
// in with an account, a Firefox comes as a guest; each sends its camera
// in simulcast layers, and they see and hear each other.
import { test, after } from 'node:test';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { closeAll, waitUntil } from '../lib/browsers.js';
import { DOMAIN, SECRET, Processes, freePort, tail, startParley, serveClient, openPage, joinWithAccount, joinAsGuest, checkCall } from '../lib/extxmpp.js';

const GUESTS = `guest.${DOMAIN}`;

const dir = mkdtempSync(path.join(tmpdir(), 'parley-prosody-'));
const procs = new Processes(dir);
/** @type {import('../lib/browsers.js').Participant[]} */
const people = [];
/** @type {import('node:http').Server[]} */
const sites = [];
after(async () => {
  await closeAll(people);
  procs.killAll();
  for (const s of sites) s.close();
  rmSync(dir, { recursive: true, force: true });
});

/** prosodyConfig is what docs/EXTERNAL-XMPP.md asks of Prosody, on loopback. */
function prosodyConfig(pdir, wsPort, compPort) {
  return `run_as_root = ${process.getuid() === 0}
daemonize = false
pidfile = "${pdir}/prosody.pid"
data_path = "${pdir}/data"
plugin_paths = {}
log = { { levels = { min = "info" }, to = "file", filename = "${pdir}/prosody.log" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
component_interfaces = { "127.0.0.1" }
c2s_ports = {}
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
s2s_ports = {}
s2s_direct_tls_ports = {}
component_ports = { ${compPort} }
http_ports = { ${wsPort} }
https_ports = {}
http_interfaces = { "127.0.0.1" }
modules_enabled = { "roster", "saslauth", "disco", "ping", "posix", "websocket" }
modules_disabled = { "s2s", "tls" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
consider_websocket_secure = true
default_iteration_count = 4096

VirtualHost "${DOMAIN}"
VirtualHost "${GUESTS}"
	authentication = "anonymous"
Component "conference.${DOMAIN}" "muc"
	muc_room_locking = false
	muc_room_default_public = true
	muc_room_default_public_jids = true
Component "internal.${DOMAIN}" "muc"
	muc_room_locking = false
	muc_room_default_public = false
	muc_room_default_public_jids = true
Component "focus.${DOMAIN}"
	component_secret = "${SECRET}"
`;
}

test('Chromium with a Prosody account and Firefox as a guest call through parley focus and parley bridge, in simulcast', async () => {
  const [wsPort, compPort] = [await freePort(), await freePort()];
  const pdir = path.join(dir, 'prosody');
  mkdirSync(path.join(pdir, 'data'), { recursive: true });
  const cfg = path.join(pdir, 'prosody.cfg.lua');
  writeFileSync(cfg, prosodyConfig(pdir, wsPort, compPort));
  const prosody = procs.run('prosody', 'prosody', ['--config', cfg, '-F']);
  const plog = () => tail(path.join(pdir, 'prosody.log'));
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${wsPort}/`).then(() => true, () => false)), 20_000, () => `prosody never listened:\n${prosody.tail()}\n${plog()}`);
  for (const [user, pw] of [['jvb', 'bridge-secret'], ['alice', 'alice password'], ['bob', 'bob password']]) {
    execFileSync('prosodyctl', ['--config', cfg, 'register', user, DOMAIN, pw]);
  }
  const { bridgePort } = await startParley(procs, { wsPort, compPort, bridgePassword: 'bridge-secret', serverLog: plog });

  // The pages come from elsewhere than Prosody: a cross-origin WebSocket.
  // Two sites, one config each: without a guest host (accounts only), and
  // with one.
  const config = { websocket: `ws://127.0.0.1:${wsPort}/xmpp-websocket`, domain: DOMAIN, muc: `conference.${DOMAIN}`, focus: `focus.${DOMAIN}` };
  for (const c of [config, { websocket: config.websocket, domain: DOMAIN, guestDomain: GUESTS }]) sites.push(await serveClient(c));
  const [accounts, guests] = sites.map((s) => `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (s.address()).port}`);
  const alice = await openPage(accounts, 'prosody-call', 'alice', 'chromium');
  people.push(alice);
  await joinWithAccount(alice, 'prosody-call');
  const bob = await openPage(guests, 'prosody-call', 'bob', 'firefox');
  people.push(bob);
  await joinAsGuest(bob, 'prosody-call', GUESTS);
  await checkCall(people, bridgePort);
});
