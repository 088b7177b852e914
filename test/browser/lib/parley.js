// Starts a parley binary on free loopback ports with a fresh data folder,
// and reads its CPU time and memory from /proc.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** freePort finds a port free for TCP and UDP on 127.0.0.1 (parley uses both). */
async function freePort() {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const u = dgram.createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error('no free TCP+UDP port on 127.0.0.1');
}

/**
 * startParley runs `parley serve` and resolves once /health answers.
 * @param {{bin?: string, users?: Record<string, string>}} [opts] users: accounts
 *   (name -> password) created with `parley user add` before the server starts
 */
export async function startParley(opts = {}) {
  const bin = opts.bin ?? process.env.PARLEY_BIN;
  if (!bin) throw new Error('PARLEY_BIN is not set; run the suite through test/browser/run.sh');
  const [http, c2s] = [await freePort(), await freePort()];
  const data = mkdtempSync(path.join(tmpdir(), 'parley-browser-'));
  for (const [name, password] of Object.entries(opts.users ?? {})) {
    execFileSync(bin, ['user', 'add', name, '--data', data, '--domain', 'localhost'], { input: `${password}\n` });
  }
  const logPath = path.join(data, 'parley.log');
  const log = createWriteStream(logPath);
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${http}`, '--c2s', `127.0.0.1:${c2s}`,
    '--domain', 'localhost', '--data', data, '--public-ip', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  child.on('exit', (code, sig) => { exited = `exit ${code ?? sig}`; });
  const base = `http://127.0.0.1:${http}`;
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`parley ${exited} during startup; log: ${readFileSync(logPath, 'utf8').slice(-2000)}`);
    try {
      const r = await fetch(`${base}/health`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (i > 200) throw new Error('parley did not answer /health within 20 s');
    await sleep(100);
  }
  return {
    base,
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
      log.end();
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
