// Starts a parley binary on free loopback ports with a fresh data folder,
// and reads its CPU time and memory from /proc.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, createWriteStream, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import https from 'node:https';
import dgram from 'node:dgram';
import path from 'node:path';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** freePort finds a port free for TCP and UDP on host (parley uses both). */
export async function freePort(host = '127.0.0.1') {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, host, () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, host, () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error(`no free TCP+UDP port on ${host}`);
}

/**
 * getTLS fetches url over HTTPS trusting only ca (a PEM certificate).
 * @param {string} url
 * @param {string} ca
 * @returns {Promise<{status: number, body: string}>}
 */
export function getTLS(url, ca) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${url}: no answer in 10 s`)));
  });
}

/**
 * makeCert writes a self-signed certificate for an IP address and DNS
 * names (its SANs) with openssl, for --tls-cert/--tls-key; it is its own CA
 * for getTLS.
 * @param {string} dir
 * @param {string} address
 * @param {string[]} [names] DNS names; default none
 * @returns {{cert: string, key: string, pem: string}} file paths and the certificate
 */
export function makeCert(dir, address, names = []) {
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${address}`,
    '-addext', `subjectAltName=${[`IP:${address}`, ...names.map((n) => `DNS:${n}`)].join(',')}`, '-addext', 'basicConstraints=critical,CA:TRUE'], { stdio: 'ignore' });
  return { cert, key, pem: readFileSync(cert, 'utf8') };
}

/**
 * startParley runs `parley serve` and resolves once /health answers.
 * @param {{bin?: string, users?: Record<string, string>, host?: string, domain?: string,
 *   tls?: {cert: string, key: string, pem: string}, args?: string[]}} [opts]
 *   users: accounts (name -> password) created with `parley user add` before
 *   the server starts; host: the address to listen on, also given as
 *   --public-ip and --turn-host (default 127.0.0.1); tls: --tls-cert/--tls-key
 *   (see makeCert), which makes base https:// (default: http://, parley's
 *   self-signed certificate); domain: the XMPP domain (default localhost);
 *   args: more `parley serve` flags (default none)
 */
export async function startParley(opts = {}) {
  const bin = opts.bin ?? process.env.PARLEY_BIN;
  if (!bin) throw new Error('PARLEY_BIN is not set; run the suite through test/browser/run.sh');
  const host = opts.host ?? '127.0.0.1';
  const [http, c2s] = [await freePort(host), await freePort(host)];
  const domain = opts.domain ?? 'localhost';
  const data = mkdtempSync(path.join(tmpdir(), 'parley-browser-'));
  for (const [name, password] of Object.entries(opts.users ?? {})) {
    execFileSync(bin, ['user', 'add', name, '--data', data, '--domain', domain], { input: `${password}\n` });
  }
  const logPath = path.join(data, 'parley.log');
  const log = createWriteStream(logPath);
  const args = ['serve', '--listen', `${host}:${http}`, '--c2s', `${host}:${c2s}`,
    '--domain', domain, '--data', data, '--public-ip', host];
  if (opts.host) args.push('--turn-host', host);
  if (opts.tls) args.push('--tls-cert', opts.tls.cert, '--tls-key', opts.tls.key);
  const child = spawn(bin, [...args, ...(opts.args ?? [])], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `exit ${code ?? sig}`; });
  const base = `${opts.tls ? 'https' : 'http'}://${host}:${http}`;
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`parley ${exited} during startup; log: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
    try {
      const ok = opts.tls ? (await getTLS(`${base}/health`, opts.tls.pem)).status === 200 : (await fetch(`${base}/health`)).ok;
      if (ok) break;
    } catch {
      // not listening yet
    }
    if (i > 200) throw new Error('parley did not answer /health within 20 s');
    await sleep(100);
  }
  return {
    base,
    host,
    port: http,
    pid: child.pid,
    logPath,
    /** usage returns parley's CPU seconds so far and its resident memory in MiB. */
    usage() {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return { cpuSeconds, rssMiB: rss ? Number(rss[1]) / 1024 : NaN, at: performance.now() };
    },
    /** log returns the tail of parley's log, for failure messages. */
    logTail(n = 40) {
      return readFileSync(logPath, 'utf8').split('\n').slice(-n).join('\n');
    },
    async stop({ keep = false } = {}) {
      if (!exited) {
        child.kill('SIGTERM');
        for (let i = 0; i < 50 && !exited; i++) await sleep(100);
        if (!exited) child.kill('SIGKILL');
      }
      await new Promise((resolve) => log.end(resolve));
      // PARLEY_LOG_COPY=FILE keeps the last parley's whole log, for a
      // failure the message's tail does not explain.
      if (process.env.PARLEY_LOG_COPY) copyFileSync(logPath, process.env.PARLEY_LOG_COPY);
      if (!keep) rmSync(data, { recursive: true, force: true });
    },
  };
}

/** @param {number} ms */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * cpuPercent is the CPU parley used between two usage() readings, in % of
 * one core.
 */
export function cpuPercent(a, b) {
  return (100 * (b.cpuSeconds - a.cpuSeconds)) / ((b.at - a.at) / 1000);
}
