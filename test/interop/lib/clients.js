// One entry point for logging in with any of the three client libraries, so
// scenarios can mix them: "xmpp.js" (WebSocket or TCP+STARTTLS), "strophe.js"
// (WebSocket) and "slixmpp" (TCP+STARTTLS).
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { env, password } from "./env.js";
import { TimeoutError } from "./session.js";
import { loginXmppjs } from "./xmppjs.js";
import { loginStrophe } from "./strophe.js";
import { loginSlixmpp } from "./slixmpp.js";

export { LoginError } from "./xmppjs.js";

export const CLIENTS = Object.freeze({
  "xmpp.js/websocket": (o) => loginXmppjs({ ...o, transport: "websocket" }),
  "xmpp.js/tcp": (o) => loginXmppjs({ ...o, transport: "tcp" }),
  "strophe.js/websocket": (o) => loginStrophe(o),
  "slixmpp/tcp": (o) => loginSlixmpp(o),
});

// After this many logins timed out (across all test files of a run), the
// server is taken as hung and later logins fail at once instead of each
// waiting out its own timeout.
const HUNG_AFTER_TIMEOUTS = 2;

function loginTimeouts() {
  if (!env.stateDir) return 0;
  try {
    return readFileSync(join(env.stateDir, "login-timeouts"), "utf8").length;
  } catch {
    return 0;
  }
}

function recordLoginTimeout() {
  if (env.stateDir) appendFileSync(join(env.stateDir, "login-timeouts"), "x");
}

/** login logs `user` in with `client` and `mechanism` (default SCRAM-SHA-1)
 * using the account's real password unless one is given. */
export async function login(client, user, { mechanism = "SCRAM-SHA-1", pass, domain } = {}) {
  const fn = CLIENTS[client];
  if (!fn) throw new Error(`unknown client ${client}`);
  if (loginTimeouts() >= HUNG_AFTER_TIMEOUTS) {
    throw new Error(`not trying: ${HUNG_AFTER_TIMEOUTS} logins already timed out, the server looks hung`);
  }
  try {
    return await fn({
      mechanism,
      user,
      password: pass ?? (user ? password(user) : undefined),
      domain: domain ?? (mechanism === "ANONYMOUS" ? env.anonDomain : env.domain),
    });
  } catch (err) {
    if (err instanceof TimeoutError) recordLoginTimeout();
    throw err;
  }
}
