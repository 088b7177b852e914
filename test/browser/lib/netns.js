// Network namespaces for the firewall tests (Linux, root, iproute2's ip).
//
// The test process and parley stay in the namespace the suite runs in (the
// "host" here). A router namespace sits between the host and the clients;
// each client browser runs in a namespace of its own behind the router, with
// a default route through it (Firefox's ICE wants one). Blackhole
// policy-routing rules in the router play the firewall, silently dropping
// forwarded packets: this kernel has no netfilter tools and no tc actions.
//
// Puppeteer must still drive browsers in another namespace:
//  - Chromium speaks CDP over a pipe (fds 3 and 4), which `ip netns exec`
//    passes through, so a one-line shell wrapper is its executable.
//  - Firefox speaks WebDriver BiDi over a WebSocket on ITS loopback, which
//    the host cannot reach. Its wrapper is this file run as a program: it
//    starts Firefox in the namespace, listens on the host's 127.0.0.1, and
//    for each connection there runs `ip netns exec NS node netns.js connect
//    PORT`, which joins the connection's bytes to Firefox's port through
//    stdin/stdout. The host side listens on the same port number (Firefox
//    checks the Host header), so the "WebDriver BiDi listening on" line
//    puppeteer reads stays true. The browser control thus never touches the
//    veth, and cutting a client's path leaves it alone.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startParley, makeCert } from './parley.js';

const SELF = fileURLToPath(import.meta.url);

/** @param {string[]} args */
function ip(...args) {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.toString().trim() || e.message}`);
  }
}

/** ipQuiet runs ip and ignores a failure (cleanup of what may be gone). */
function ipQuiet(...args) {
  try {
    execFileSync('ip', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * canUseNetns says whether this process may create namespaces: root and ip.
 * The firewall tests fail (not skip) without it; this only words the error.
 */
export function netnsProblem() {
  if (process.getuid?.() !== 0) return 'the firewall tests need root (network namespaces); run them as scripts/test.sh does';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'the firewall tests need iproute2 (ip)';
  }
  return '';
}

/**
 * removeStale deletes the namespaces (and their /etc/netns overlays) left by
 * firewall-test processes that are gone (killed before their cleanup ran):
 * named namespaces outlive the namespace the suite ran in.
 */
export function removeStale() {
  let names = [];
  try {
    names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').map((l) => l.split(' ')[0]);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^pfw-(\d+)-/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
      continue; // its process still runs
    } catch {
      // gone
    }
    ipQuiet('netns', 'del', name);
    rmSync(path.join('/etc/netns', name), { recursive: true, force: true });
  }
}

/**
 * A Router is a namespace between the host and the clients: it forwards
 * between the host's server address and every client namespace, and its
 * blackhole rules drop forwarded packets silently, as a firewall in the path
 * would. Rules at the endpoints would not do: there the blackhole makes
 * send() and connect() fail at once (Firefox then even fails to find its own
 * address), which no real firewall does.
 */
export class Router {
  /** @param {{server: string}} cfg server: parley's address, e.g. 10.233.0.1 */
  constructor({ server }) {
    this.server = server; // immutable, like the fields below
    this.name = `pfw-${process.pid}-router`;
    // The host's end of the host-router link carries the server address:
    // Pion gathers no ICE-TCP candidate for an address on lo.
    this.hostDev = 'pfwsrv0';
    this.routerIP = server.replace(/\.\d+$/, '.2');
    ipQuiet('link', 'del', this.hostDev); // left by a killed run
    try {
      ip('netns', 'add', this.name);
      ip('link', 'add', this.hostDev, 'type', 'veth', 'peer', 'name', 'pfwsrv1');
      ip('link', 'set', 'pfwsrv1', 'netns', this.name);
      ip('addr', 'add', `${server}/24`, 'dev', this.hostDev);
      ip('link', 'set', this.hostDev, 'up');
      ip('route', 'add', '10.232.0.0/16', 'via', this.routerIP);
      ip('-n', this.name, 'link', 'set', 'lo', 'up');
      ip('-n', this.name, 'addr', 'add', `${this.routerIP}/24`, 'dev', 'pfwsrv1');
      ip('-n', this.name, 'link', 'set', 'pfwsrv1', 'up');
      execFileSync('ip', ['netns', 'exec', this.name, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'], { stdio: 'ignore' });
    } catch (e) {
      this.remove();
      throw e;
    }
  }

  /** remove deletes the namespace, the host's link and route; safe to repeat. */
  remove() {
    ipQuiet('route', 'del', '10.232.0.0/16', 'via', this.routerIP);
    ipQuiet('link', 'del', this.hostDev);
    ipQuiet('netns', 'del', this.name);
  }
}

/**
 * A ClientNetns is a namespace joined to the router by a veth pair, whose
 * path to the server can be blocked and restored.
 */
export class ClientNetns {
  /**
   * @param {{id: number, router: Router, hosts?: Record<string, string>}} cfg
   *   id: 1-250, unique among the namespaces alive at once (names, addresses
   *   and rule priorities derive from it); hosts: name -> address, the
   *   namespace's /etc/hosts (`ip netns exec` mounts /etc/netns/NAME/hosts
   *   over it); default: localhost only
   */
  constructor({ id, router, hosts = {} }) {
    this.name = `pfw-${process.pid}-${id}`; // immutable, like the fields below
    this.router = router;
    this.gateway = `10.232.${id}.1`;
    this.ip = `10.232.${id}.2`;
    // Before the main table's lookup (32766), after the local one (0).
    this.rulePriority = 21000 + id;
    /** @type {string} wrapper scripts for the browsers; removed by remove() */
    this.dir = mkdtempSync(path.join(tmpdir(), 'parley-netns-'));
    const routerDev = `pfwr${id}`;
    const nsDev = `pfwn${id}`;
    this.routerDev = routerDev; // the router's end of the veth: shapeDownlink's
    try {
      ip('netns', 'add', this.name);
      mkdirSync(this.etc(), { recursive: true });
      const lines = ['127.0.0.1 localhost', '::1 localhost', ...Object.entries(hosts).map(([n, a]) => `${a} ${n}`)];
      writeFileSync(path.join(this.etc(), 'hosts'), `${lines.join('\n')}\n`);
      ip('-n', router.name, 'link', 'add', routerDev, 'type', 'veth', 'peer', 'name', nsDev);
      ip('-n', router.name, 'link', 'set', nsDev, 'netns', this.name);
      ip('-n', router.name, 'addr', 'add', `${this.gateway}/24`, 'dev', routerDev);
      ip('-n', router.name, 'link', 'set', routerDev, 'up');
      ip('-n', this.name, 'link', 'set', 'lo', 'up');
      ip('-n', this.name, 'addr', 'add', `${this.ip}/24`, 'dev', nsDev);
      // No IPv6 on the client's link: its link-local address turns valid
      // a second or two after the link comes up, and a Chromium loading
      // its page at that moment fails with ERR_NETWORK_CHANGED (a CI run
      // lost a page that way). The tests use IPv4 only.
      execFileSync('ip', ['netns', 'exec', this.name, 'sysctl', '-q', '-w', `net.ipv6.conf.${nsDev}.disable_ipv6=1`], { stdio: 'ignore' });
      ip('-n', this.name, 'link', 'set', nsDev, 'up');
      ip('-n', this.name, 'route', 'add', 'default', 'via', this.gateway);
    } catch (e) {
      this.remove();
      throw e;
    }
    /** @type {string} what is blocked now: '', 'udp' or 'all' */
    this.blocked = '';
  }

  /**
   * block drops UDP ('udp') or every packet ('all') both ways between this
   * namespace and the server, in the router: one blackhole rule each way.
   * @param {'udp'|'all'} what
   */
  block(what) {
    if (this.blocked) this.unblock();
    const proto = what === 'udp' ? ['ipproto', 'udp'] : [];
    const prio = String(this.rulePriority);
    const r = this.router;
    ip('-n', r.name, 'rule', 'add', 'from', this.ip, 'to', r.server, ...proto, 'blackhole', 'priority', prio);
    ip('-n', r.name, 'rule', 'add', 'from', r.server, 'to', this.ip, ...proto, 'blackhole', 'priority', prio);
    this.blocked = what;
  }

  /**
   * shapeDownlink limits what reaches this namespace from the router to
   * kbit kbit/s: a token bucket (tc's tbf) on the router's end of the veth,
   * with a queue of at most 50 ms (what does not fit is dropped). Its
   * uplink stays as it is.
   * @param {number} kbit
   */
  shapeDownlink(kbit) {
    execFileSync('ip', ['netns', 'exec', this.router.name, 'tc', 'qdisc', 'replace', 'dev', this.routerDev,
      'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', '6kb', 'latency', '50ms'], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /**
   * unshape lifts shapeDownlink's limit as a link that widens does: the
   * token bucket's rate goes up to 1 Gbit/s, and what it holds drains.
   * (Deleting the qdisc instead dropped the packets queued in it at once,
   * a burst of loss that no widening link shows: the SFU took it for
   * congestion, and its next probe waited up to 5 s longer.)
   */
  unshape() {
    try {
      execFileSync('ip', ['netns', 'exec', this.router.name, 'tc', 'qdisc', 'change', 'dev', this.routerDev,
        'root', 'tbf', 'rate', '1gbit', 'burst', '1mb', 'latency', '50ms'], { stdio: 'ignore' });
    } catch {
      // not shaped
    }
  }

  /** unblock removes the blackhole rules. */
  unblock() {
    const prio = String(this.rulePriority);
    while (ipQuiet('-n', this.router.name, 'rule', 'del', 'priority', prio));
    this.blocked = '';
  }

  /**
   * browserExecutable writes (once) and returns the path of a wrapper that
   * starts the browser inside this namespace; see the top of this file.
   * @param {'chromium'|'firefox'} kind
   * @param {string} bin the real browser
   */
  browserExecutable(kind, bin) {
    const file = path.join(this.dir, kind);
    const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;
    const line = kind === 'chromium'
      ? `exec ip netns exec ${q(this.name)} ${q(bin)} "$@"`
      : `exec ${q(process.execPath)} ${q(SELF)} firefox ${q(this.name)} ${q(bin)} "$@"`;
    writeFileSync(file, `#!/bin/sh\n${line}\n`, { mode: 0o755 });
    return file;
  }

  /** etc is the namespace's own /etc overlay for `ip netns exec`. */
  etc() {
    return path.join('/etc/netns', this.name);
  }

  /** remove deletes the rules, the namespace and its veth; safe to repeat. */
  remove() {
    this.unblock();
    ipQuiet('netns', 'del', this.name); // takes the veth pair with it
    rmSync(this.etc(), { recursive: true, force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}


/**
 * DOMAIN is parley's XMPP domain in the firewall tests, and the name in
 * turns: URLs (parley names the domain there, as certificates do): the
 * clients' /etc/hosts map it to the server address. .test is reserved for
 * testing (RFC 2606).
 */
export const DOMAIN = 'parley.test';

/**
 * @typedef {object} World
 * @property {Awaited<ReturnType<typeof startParley>>} parley on server, https:// with cert
 * @property {ClientNetns[]} clients
 * @property {{cert: string, key: string, pem: string}} cert parley's certificate (PEM in pem)
 * @property {() => Promise<void>} close stops parley, removes namespaces, rules and the address
 */

/**
 * openWorld makes the firewall tests' setting: a server address on the
 * host, a router namespace, parley on the server address with a certificate for that address (browsers
 * need HTTPS off loopback for getUserMedia), and n client namespaces.
 * Whatever was made is undone when a step fails.
 * @param {{clients: number, args?: string[]}} cfg args: more `parley serve` flags
 * @returns {Promise<World>}
 */
export async function openWorld({ clients: n, args = [] }) {
  const problem = netnsProblem();
  if (problem) throw new Error(problem);
  removeStale();
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-fw-'));
  /** @type {ClientNetns[]} */
  const clients = [];
  /** @type {Router|null} */
  let router = null;
  let parley = null;
  const close = async () => {
    await parley?.stop();
    for (const c of clients) c.remove();
    router?.remove();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    router = new Router({ server: '10.233.0.1' });
    const hosts = { [DOMAIN]: router.server };
    for (let i = 1; i <= n; i++) clients.push(new ClientNetns({ id: i, router, hosts }));
    const cert = makeCert(dir, router.server, [DOMAIN]);
    parley = await startParley({ host: router.server, domain: DOMAIN, tls: cert, args });
    return { parley, clients, cert, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The line puppeteer waits for on Firefox's stderr. */
const BIDI_LINE = /^(WebDriver BiDi listening on )ws:\/\/127\.0\.0\.1:(\d+)(.*)$/;

/**
 * firefoxInNetns is the Firefox wrapper: Firefox in namespace ns, its BiDi
 * port forwarded to a port on the host's 127.0.0.1.
 * @param {string} ns
 * @param {string} bin
 * @param {string[]} args
 */
function firefoxInNetns(ns, bin, args) {
  const ff = spawn('ip', ['netns', 'exec', ns, bin, ...args], { stdio: ['ignore', 'inherit', 'pipe'] });
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => ff.kill(sig));
  ff.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
  readline.createInterface({ input: ff.stderr }).on('line', (l) => {
    const m = BIDI_LINE.exec(l);
    if (!m) {
      process.stderr.write(`${l}\n`);
      return;
    }
    const server = net.createServer((sock) => {
      const relay = spawn('ip', ['netns', 'exec', ns, process.execPath, SELF, 'connect', m[2]], { stdio: ['pipe', 'pipe', 'inherit'] });
      sock.pipe(relay.stdin);
      relay.stdout.pipe(sock);
      sock.on('error', () => relay.kill());
      sock.on('close', () => relay.kill());
      relay.on('exit', () => sock.destroy());
    });
    // The same port number on the host's loopback: Firefox checks the Host
    // header, port included, so the URL must stay the same.
    server.on('error', (e) => {
      process.stderr.write(`netns.js: cannot listen on 127.0.0.1:${m[2]} for Firefox's BiDi port: ${e.message}\n`);
      ff.kill('SIGKILL');
    });
    server.listen(Number(m[2]), '127.0.0.1', () => process.stderr.write(`${l}\n`));
  });
}

/**
 * connectStdio joins stdin/stdout to 127.0.0.1:port (run inside the
 * namespace by the Firefox wrapper).
 * @param {number} port
 */
function connectStdio(port) {
  const sock = net.connect(port, '127.0.0.1');
  process.stdin.pipe(sock);
  sock.pipe(process.stdout);
  sock.on('error', () => process.exit(1));
  sock.on('close', () => process.exit(0));
  process.stdin.on('end', () => sock.end());
}

if (process.argv[1] === SELF) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'firefox') firefoxInNetns(rest[0], rest[1], rest.slice(2));
  else if (mode === 'connect') connectStdio(Number(rest[0]));
  else {
    process.stderr.write('usage: netns.js firefox NS FIREFOX ARGS... | netns.js connect PORT\n');
    process.exit(2);
  }
}
