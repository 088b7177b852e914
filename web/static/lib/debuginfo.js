// @ts-check
/**
 * The "download debug info" file: this session's signalling trace with
 * secrets redacted, a history of WebRTC statistics, the browser, and the
 * ICE candidates in use. It replaces HAR captures and proxies when someone
 * reports a problem.
 *
 * No DOM access.
 */

/** How long statistics are kept. */
const STATS_KEEP_MS = 5 * 60_000;
/** How many signalling frames are kept (the newest). */
const TRACE_KEEP = 3000;

/**
 * Secrets in XMPP traffic: the MUC password, SASL exchanges (they carry
 * passwords, or proofs of them), tokens, and TURN credentials.
 */
const SECRET_ELEMENTS = ['password', 'auth', 'response', 'challenge', 'success', 'token'];
const SECRET_ATTRS = ['password', 'token', 'credential', 'secret'];

/**
 * redact removes secrets from one XML frame: the text of secret elements
 * and the values of secret attributes, and token/password query
 * parameters anywhere.
 * @param {string} xml
 */
export function redact(xml) {
  let out = xml;
  for (const name of SECRET_ELEMENTS) {
    const re = new RegExp(`(<(?:[\\w-]+:)?${name}\\b[^>]*>)([^<]*)(</(?:[\\w-]+:)?${name}>)`, 'gi');
    out = out.replace(re, (_all, open, body, close) => (body ? `${open}[redacted]${close}` : `${open}${close}`));
  }
  for (const name of SECRET_ATTRS) {
    const re = new RegExp(`(\\s${name}\\s*=\\s*)(["'])[^"']*\\2`, 'gi');
    out = out.replace(re, '$1$2[redacted]$2');
  }
  return out.replace(/([?&](?:password|token|jwt|resume)=)[^&\s"'<]*/gi, '$1[redacted]');
}

/**
 * @typedef {object} TraceEntry
 * @property {number} t ms since the epoch
 * @property {string} dir 'in' or 'out'
 * @property {string} xml redacted
 */

/**
 * @typedef {object} StatsEntry
 * @property {number} t ms since the epoch
 * @property {Record<string, any>[]} reports selected getStats reports
 */

/** DebugRecorder keeps what the debug file needs, bounded in size. */
export class DebugRecorder {
  constructor() {
    /** @type {TraceEntry[]} */
    this.trace = [];
    /** @type {StatsEntry[]} */
    this.stats = [];
    this.startedAt = Date.now();
  }

  /**
   * @param {string} dir
   * @param {string} xml
   */
  addTrace(dir, xml) {
    this.trace.push({ t: Date.now(), dir, xml: redact(xml) });
    if (this.trace.length > TRACE_KEEP) this.trace.splice(0, this.trace.length - TRACE_KEEP);
  }

  /**
   * addStats keeps the useful reports of one getStats() reading.
   * @param {Iterable<Record<string, any>>} reports
   * @param {number} [now]
   */
  addStats(reports, now = Date.now()) {
    const keep = ['inbound-rtp', 'outbound-rtp', 'candidate-pair', 'remote-inbound-rtp', 'transport'];
    const picked = [];
    for (const r of reports) if (keep.includes(r.type)) picked.push({ ...r });
    this.stats.push({ t: now, reports: picked });
    while (this.stats.length && this.stats[0].t < now - STATS_KEEP_MS) this.stats.shift();
  }

  /**
   * build returns the debug file's content.
   * @param {{userAgent: string, browser: string, room: string, candidates: Record<string, any>|null, status: unknown}} env
   */
  build(env) {
    return {
      format: 'parley-debug-1',
      createdAt: new Date().toISOString(),
      sessionStartedAt: new Date(this.startedAt).toISOString(),
      ...env,
      signalling: this.trace,
      stats: this.stats,
    };
  }
}

/**
 * browserName reads the browser and its version from a user agent.
 * @param {string} ua
 */
export function browserName(ua) {
  const m = /(Firefox|Edg|OPR|Chrome|Chromium|Safari)\/([\d.]+)/.exec(ua);
  return m ? `${m[1] === 'Edg' ? 'Edge' : m[1]} ${m[2]}` : 'unknown';
}
