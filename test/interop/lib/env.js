// Target parameters handed over by run.sh, so test code is target-agnostic.

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set; run the suite through test/interop/run.sh`);
  }
  return value;
}

export const env = Object.freeze({
  target: process.env.INTEROP_TARGET ?? "unknown",
  domain: required("XMPP_DOMAIN"),
  // Where SASL ANONYMOUS is offered (Prosody needs a separate host for it).
  anonDomain: process.env.XMPP_ANON_DOMAIN || required("XMPP_DOMAIN"),
  // Where SCRAM-SHA-256 is offered for alice (Prosody stores one hash per host).
  scram256Domain: process.env.XMPP_SCRAM256_DOMAIN || required("XMPP_DOMAIN"),
  mucDomain: required("MUC_DOMAIN"),
  wsURL: required("XMPP_WS_URL"),
  tcpHost: required("XMPP_TCP_HOST"),
  tcpPort: Number(required("XMPP_TCP_PORT")),
  python: process.env.INTEROP_PYTHON || "/usr/bin/python3",
  // One step (a login, an IQ round trip, waiting for a stanza) may take this
  // long before the test fails: a hung server fails fast.
  stepMs: Number(process.env.INTEROP_STEP_TIMEOUT_MS || 5000),
  // A login is several round trips (TLS, SASL, bind): two steps.
  get loginMs() {
    return 2 * this.stepMs;
  },
  // A directory the test files of one run share (run.sh makes it).
  stateDir: process.env.INTEROP_STATE_DIR || "",
  // A push app server's component domain, secret and port: set by targets
  // that take components and publish push notifications (parley); "" else.
  pushDomain: process.env.XMPP_PUSH_DOMAIN || "",
  pushSecret: process.env.XMPP_PUSH_SECRET || "",
  componentPort: Number(process.env.XMPP_COMPONENT_PORT || 0),
  deviations: new Set(
    (process.env.XMPP_KNOWN_DEVIATIONS || "").split(/[\s,]+/).filter(Boolean),
  ),
});

export function password(user) {
  return `secret-${user}`;
}

/** deviationAllowed reports whether the target was started with the named,
 * documented deviation from a spec (see README.md). */
export function deviationAllowed(name) {
  return env.deviations.has(name);
}
