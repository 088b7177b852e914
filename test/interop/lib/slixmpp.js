// Adapter for Python's slixmpp (Debian's python3-slixmpp): a py/agent.py
// child per session, logged in over TCP with STARTTLS, talking JSON lines.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { env } from "./env.js";
import { LoginError } from "./xmppjs.js";
import { Session, withTimeout } from "./session.js";
import { NS, parse } from "./stanza.js";

const AGENT = fileURLToPath(new URL("../py/agent.py", import.meta.url));
const STANZAS = new Set(["message", "presence", "iq"]);

class SlixmppSession extends Session {
  constructor(child) {
    super("slixmpp", "tcp");
    this.child = child; // the agent process
    this.tlsProtocol = null; // TLS version the agent negotiated; set at login
    this.features = []; // {xml, mechanisms} of each <stream:features/>, in order
    this.stderr = ""; // the agent's stderr, for failure messages (capped)
    this.replies = new Map(); // tag -> resolve, for plugin commands; owned by onLine
    this.nextTag = 0;
    this.exited = new Promise((resolve) => child.once("exit", resolve));
  }

  command(cmd) {
    this.child.stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  async sendStanza(stanza) {
    // The agent builds a slixmpp stanza object from this, which needs the
    // jabber:client namespace to recognise iq/message/presence.
    const el = parse(stanza.toString());
    el.attrs.xmlns ??= NS.client;
    this.command({ op: "send", xml: el.toString() });
  }

  /** plugin runs one of the agent's slixmpp plugin calls (disco_info,
   * disco_items, ping) and resolves with what slixmpp parsed. */
  plugin(op, jid) {
    this.nextTag += 1;
    const tag = this.nextTag;
    const reply = new Promise((resolve) => this.replies.set(tag, resolve));
    this.command({ op, jid, tag });
    return withTimeout(reply, `slixmpp ${op} ${jid}`).finally(() => this.replies.delete(tag));
  }

  /** xep runs one of the agent's XEP plugin calls (py/agent.py plugin_call). */
  xep(call, args = {}, timeout = env.stepMs) {
    this.nextTag += 1;
    const tag = this.nextTag;
    const reply = new Promise((resolve) => this.replies.set(tag, resolve));
    this.command({ op: "plugin", call, args, tag });
    return withTimeout(reply, `slixmpp ${call}`, timeout).finally(() => this.replies.delete(tag));
  }

  async closeStream() {
    if (this.child.exitCode === null) this.command({ op: "close" });
    await this.exited;
  }

  forceClose() {
    this.child.kill("SIGKILL");
  }
}

/**
 * loginSlixmpp starts an agent that logs in over TCP+STARTTLS with exactly
 * `mechanism`; resolves with a Session once slixmpp reports session_start.
 */
export async function loginSlixmpp({ mechanism, user, password, domain = env.domain,
  resource = `slixmpp-${process.pid}`, port = env.tcpPort, plugins = [], reconnect = false }) {
  const jid = mechanism === "ANONYMOUS" ? domain : `${user}@${domain}/${resource}`;
  const args = [AGENT, "--jid", jid, "--mechanism", mechanism, "--host", env.tcpHost,
    "--port", String(port), "--timeout", String(env.stepMs / 1000)];
  if (password) args.push("--password", password);
  if (plugins.length) args.push("--plugins", plugins.join(","));
  if (reconnect) args.push("--reconnect");
  const child = spawn(env.python, args, { stdio: ["pipe", "pipe", "pipe"] });
  const session = new SlixmppSession(child);
  child.stderr.on("data", (d) => {
    if (session.stderr.length < 8192) session.stderr += d.toString();
  });
  const login = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on("line", (line) => {
      let ev;
      try {
        ev = JSON.parse(line);
      } catch {
        reject(new Error(`slixmpp agent wrote non-JSON: ${line}`));
        return;
      }
      switch (ev.event) {
        case "stanza": {
          const el = parse(ev.xml);
          if (STANZAS.has(el.name)) session.deliver(el);
          else if (el.name === "enabled") session.smEnabled = true;
          break;
        }
        case "features":
          session.features.push(ev);
          break;
        case "online":
          session.jid = ev.jid;
          session.tlsProtocol = ev.tls;
          resolve(session);
          break;
        case "auth_failed":
          reject(new LoginError(`SASL ${mechanism} failed: ${ev.condition}`, ev.condition));
          break;
        case "reply":
          session.replies.get(ev.tag)?.(ev);
          break;
        case "resumed":
          session.resumed = (session.resumed ?? 0) + 1;
          break;
        case "disconnected":
          session.disconnects = (session.disconnects ?? 0) + 1;
          reject(new LoginError(`slixmpp: disconnected ${ev.reason}`));
          break;
        case "error":
          reject(new LoginError(`slixmpp: ${ev.message ?? `disconnected ${ev.reason}`}`));
          break;
        default:
      }
    });
    child.once("exit", (code) =>
      reject(new LoginError(`slixmpp agent exited (${code}) before login: ${session.stderr}`)),
    );
  });
  try {
    return await withTimeout(login, `slixmpp tcp ${mechanism} login`, env.loginMs);
  } catch (err) {
    session.forceClose();
    throw err;
  }
}
