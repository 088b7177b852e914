// One entry point for logging in with any of the three client libraries, so
// scenarios can mix them: "xmpp.js" (WebSocket or TCP+STARTTLS), "strophe.js"
// (WebSocket) and "slixmpp" (TCP+STARTTLS).
import { env, password } from "./env.js";
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

/** login logs `user` in with `client` and `mechanism` (default SCRAM-SHA-1)
 * using the account's real password unless one is given. */
export function login(client, user, { mechanism = "SCRAM-SHA-1", pass, domain } = {}) {
  const fn = CLIENTS[client];
  if (!fn) throw new Error(`unknown client ${client}`);
  return fn({
    mechanism,
    user,
    password: pass ?? (user ? password(user) : undefined),
    domain: domain ?? (mechanism === "ANONYMOUS" ? env.anonDomain : env.domain),
  });
}
