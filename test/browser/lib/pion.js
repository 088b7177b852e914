// Runs test/browser/pionpeers: headless Pion participants in a room.
import { spawn } from 'node:child_process';
import readline from 'node:readline';

/**
 * startPion joins n Pion peers (nicks PREFIX1..PREFIXn) to a room and
 * resolves once all have joined. With media set, only the first that many
 * take the call's media; the others are only in the room. Peers with media
 * send a tone marked as speech (RFC 6464 audio level); with quiet they
 * send silence until speak(nick).
 * @param {{base: string, room: string, n: number, prefix?: string, media?: number, quiet?: boolean}} opts
 */
export async function startPion({ base, room, n, prefix = 'pion', media = n, quiet = false }) {
  const bin = process.env.PIONPEERS_BIN;
  if (!bin) throw new Error('PIONPEERS_BIN is not set; run the suite through test/browser/run.sh');
  const ws = `${base.replace(/^http/, 'ws')}/xmpp-websocket`;
  const child = spawn(bin, ['-ws', ws, '-domain', 'localhost', '-room', room, '-n', String(n), '-media', String(media), '-prefix', prefix, ...(quiet ? ['-quiet'] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = [];
  child.stderr.on('data', (d) => stderr.push(String(d)));
  const lines = readline.createInterface({ input: child.stdout });
  const waiting = [];
  let exited = null;
  lines.on('line', (l) => waiting.shift()?.resolve(JSON.parse(l)));
  child.on('exit', (code) => {
    exited = `pionpeers exited (${code}): ${stderr.join('').slice(-1500)}`;
    for (const w of waiting.splice(0)) w.reject(new Error(exited));
  });
  const next = () => new Promise((resolve, reject) => (exited ? reject(new Error(exited)) : waiting.push({ resolve, reject })));
  const command = async (line) => {
    const answer = next();
    child.stdin.write(`${line}\n`);
    const a = await answer;
    if (!a.ok) throw new Error(`pionpeers: ${line}: ${JSON.stringify(a)}`);
  };
  const ready = await next();
  if (!ready.ready) throw new Error(`pionpeers said ${JSON.stringify(ready)}`);
  return {
    nicks: Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`),
    /** stats returns receiving nick -> sending nick -> {audioPackets, videoPackets}. */
    async stats() {
      const answer = next();
      child.stdin.write('stats\n');
      return (await answer).peers;
    },
    /** speak makes a peer send the tone, quiet silence (its audio level says which). */
    speak: (nick) => command(`speak ${nick}`),
    quiet: (nick) => command(`quiet ${nick}`),
    async stop() {
      if (exited) return;
      child.stdin.end();
      await new Promise((r) => {
        child.once('exit', r);
        setTimeout(() => child.kill('SIGKILL'), 5000);
      });
    },
  };
}
