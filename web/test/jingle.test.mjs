// Tests of web/static/lib/jingle.js against the vectors and invalid inputs
// the Go package internal/jingle is tested with: both must agree with the
// same expected SDP and Jingle. Run with `npm test` in web/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  parseJingle, jingleElement, jingleToSDP, toSDP, fromSDP, sdpToJingle, JingleError,
  candidateFromSDP, candidateToSDP, candidateElement, candidateFromElement,
} from '../static/lib/jingle.js';
import { parse, serialize } from '../static/lib/xml.js';

const testdata = fileURLToPath(new URL('../../internal/jingle/testdata/', import.meta.url));
const vectors = fs.readdirSync(`${testdata}vectors`).filter((f) => f.endsWith('.json')).sort()
  .map((f) => JSON.parse(fs.readFileSync(`${testdata}vectors/${f}`, 'utf8')));
const invalid = JSON.parse(fs.readFileSync(`${testdata}invalid.json`, 'utf8'));

test('there are vectors and invalid inputs', () => {
  assert.ok(vectors.length >= 10, `${vectors.length} vectors`);
  assert.ok(invalid.length >= 50, `${invalid.length} invalid inputs`);
});

// ---- semantic SDP comparison, the same rules as helpers_test.go ----

/** @param {string} line */
const attrOf = (line) => {
  const a = line.slice(2);
  const i = a.indexOf(':');
  return i < 0 ? [a, ''] : [a.slice(0, i), a.slice(i + 1)];
};

/** @param {string[]} lines */
function attrMap(lines) {
  const attrs = new Map();
  const order = [];
  for (const l of lines) {
    if (l.startsWith('b=')) {
      attrs.set('b', [...(attrs.get('b') ?? []), l.slice(2)]);
    } else if (l.startsWith('a=')) {
      const [n, v] = attrOf(l);
      attrs.set(n, [...(attrs.get(n) ?? []), v]);
      order.push(n);
    }
  }
  return { attrs, order };
}

const words = (s) => s.split(/\s+/).filter(Boolean);

/**
 * normalizeSDP reduces an SDP to what matters for media, canonically: see
 * the comment on normSDP in internal/jingle/helpers_test.go.
 * @param {string} sdp
 */
function normalizeSDP(sdp) {
  const session = [];
  const raw = [];
  for (let line of sdp.split('\n')) {
    line = line.replace(/\r$/, '').replace(/ +$/, '');
    if (line === '') continue;
    if (line.startsWith('m=')) raw.push([line]);
    else if (raw.length === 0) session.push(line);
    else raw[raw.length - 1].push(line);
  }
  const sess = attrMap(session).attrs;
  let bundle = null;
  for (const v of sess.get('group') ?? []) {
    const f = words(v);
    if (f[0] === 'BUNDLE' && bundle === null) bundle = f.slice(1);
  }
  const secs = [];
  for (const r of raw) {
    const mline = words(r[0].slice(2));
    const { attrs, order } = attrMap(r.slice(1));
    if (mline[1] === '0' && !attrs.has('bundle-only')) continue;
    assert.equal(attrs.get('mid')?.length, 1, 'one a=mid per m-line');
    const transport = new Map();
    for (const n of ['ice-ufrag', 'ice-pwd', 'fingerprint', 'setup']) {
      const v = attrs.get(n) ?? sess.get(n);
      if (v) transport.set(n, v);
    }
    secs.push({ mline, mid: attrs.get('mid')[0], attrs, order, transport, mixed: attrs.has('extmap-allow-mixed') || sess.has('extmap-allow-mixed') });
  }
  const mids = secs.map((s) => s.mid);
  const bundled = (bundle ?? []).filter((m) => mids.includes(m));
  for (const sec of secs) {
    if (!bundled.includes(sec.mid)) continue;
    for (const mid of bundled) {
      const lender = secs.find((s) => s.mid === mid).transport;
      if (!sec.transport.has('ice-ufrag') && lender.has('ice-ufrag')) {
        sec.transport.set('ice-ufrag', lender.get('ice-ufrag'));
        if (lender.has('ice-pwd')) sec.transport.set('ice-pwd', lender.get('ice-pwd'));
        else sec.transport.delete('ice-pwd');
      }
      if (!sec.transport.has('fingerprint') && lender.has('fingerprint')) {
        sec.transport.set('fingerprint', lender.get('fingerprint'));
        if (lender.has('setup')) sec.transport.set('setup', lender.get('setup'));
        else sec.transport.delete('setup');
      }
    }
  }
  return { bundle: bundled, media: secs.map((s) => ({ mid: s.mid, items: sectionItems(s) })) };
}

function sectionItems(sec) {
  const items = [];
  const get = (n) => sec.attrs.get(n) ?? [];
  for (const n of ['ice-ufrag', 'ice-pwd']) for (const v of sec.transport.get(n) ?? []) items.push(`${n} ${v}`);
  const fps = sec.transport.get('fingerprint') ?? [];
  for (const v of fps) {
    const f = words(v);
    items.push(`fingerprint ${f[0].toLowerCase()} ${f[1]}`);
  }
  if (fps.length > 0) for (const v of sec.transport.get('setup') ?? []) items.push(`setup ${v}`);
  for (const v of get('candidate')) items.push(`candidate ${normalizeCandidate(v)}`);
  if (sec.attrs.has('rtcp-mux')) items.push('rtcp-mux');
  if (sec.mline[0] === 'application') {
    items.push('m application');
    for (const v of get('sctp-port')) items.push(`sctp-port ${v}`);
    for (const v of get('sctpmap')) items.push(`sctp-port ${words(v)[0]}`);
  } else {
    items.push(`m ${sec.mline[0]} ${sec.mline.slice(3).join(' ')}`);
    items.push(...rtpItems(sec));
  }
  return items.sort();
}

function rtpItems(sec) {
  const items = [];
  const get = (n) => sec.attrs.get(n) ?? [];
  let dir = 'sendrecv';
  for (const n of sec.order) if (['sendrecv', 'sendonly', 'recvonly', 'inactive'].includes(n)) dir = n;
  items.push(`dir ${dir}`);
  if (sec.mixed) items.push('extmap-allow-mixed');
  for (const v of get('rtpmap')) items.push(`rtpmap ${v.replace(/\/1$/, '')}`);
  for (const v of get('fmtp')) {
    const sp = v.indexOf(' ');
    const params = (sp < 0 ? '' : v.slice(sp + 1)).split(';').map((p) => p.trim()).filter(Boolean).sort();
    items.push(`fmtp ${sp < 0 ? v : v.slice(0, sp)} ${params.join(';')}`);
  }
  for (const v of get('rtcp-fb')) items.push(`rtcp-fb ${words(v).join(' ')}`);
  for (const v of get('extmap')) {
    const f = words(v);
    items.push(`extmap ${f[0].replace(/\/sendrecv$/, '')} ${f[1]}`);
  }
  for (const n of ['ptime', 'maxptime', 'b']) for (const v of get(n)) items.push(`${n} ${v}`);
  for (const v of get('ssrc-group')) items.push(`ssrc-group ${words(v).join(' ')}`);
  for (const n of ['rid', 'simulcast']) for (const v of get(n)) items.push(`${n} ${words(v).join(' ')}`);
  let msid = get('msid').length ? words(get('msid')[0]).join(' ') : '';
  if (msid === '') {
    const m = get('ssrc').find((v) => v.includes(' msid:'));
    if (m) msid = words(m.slice(m.indexOf(' msid:') + 6)).join(' ');
  }
  const ssrcs = [];
  const hasMsid = new Set();
  for (const v of get('ssrc')) {
    const sp = v.indexOf(' ');
    const id = v.slice(0, sp), a = v.slice(sp + 1);
    if (!ssrcs.includes(id)) ssrcs.push(id);
    const colon = a.indexOf(':');
    if (colon < 0) {
      items.push(`ssrc ${id} ${a}`);
    } else {
      if (a.slice(0, colon) === 'msid') hasMsid.add(id);
      items.push(`ssrc ${id} ${a.slice(0, colon)}:${words(a.slice(colon + 1)).join(' ')}`);
    }
  }
  for (const id of ssrcs) if (msid !== '' && !hasMsid.has(id)) items.push(`ssrc ${id} msid:${msid}`);
  return items;
}

function normalizeCandidate(v) {
  const f = words(v);
  if (f.length < 8) return v;
  f[2] = f[2].toLowerCase();
  const out = f.slice(0, 8);
  const ext = new Map([['generation', '0']]);
  for (let i = 8; i + 1 < f.length; i += 2) ext.set(f[i], f[i + 1]);
  for (const k of ['raddr', 'rport', 'tcptype', 'generation', 'network-id']) {
    if (ext.has(k) && !(k === 'network-id' && ext.get(k) === '0')) out.push(k, ext.get(k));
  }
  return out.join(' ');
}

function assertSameSDP(got, want) {
  assert.deepEqual(normalizeSDP(got), normalizeSDP(want));
}

// ---- what SDP cannot carry, the same rules as canonical in vectors_test.go ----

function canonical(j) {
  const names = j.contents.map((c) => c.name);
  let group = null;
  if (j.group && j.group.semantics === 'BUNDLE') {
    const kept = j.group.contents.filter((n) => names.includes(n));
    if (kept.length) group = { semantics: 'BUNDLE', contents: kept };
  }
  const contents = j.contents.map((c) => {
    const transport = canonicalTransport(j, c);
    return {
      creator: 'initiator', name: c.name, senders: transport.sctp ? 'both' : c.senders || 'both',
      description: transport.sctp ? emptyDescription('application') : canonicalDescription(c.description),
      transport,
    };
  });
  return { group, contents };
}

const emptyDescription = (media) => ({ media, ssrc: '', payloadTypes: [], feedback: [], headerExtensions: [],
  extmapAllowMixed: false, rtcpMux: false, bandwidths: [], sources: [], sourceGroups: [], rids: [], simulcast: [] });

function canonicalTransport(j, c) {
  const own = c.transport;
  const t = { ufrag: own?.ufrag ?? '', pwd: own?.pwd ?? '', fingerprints: [...(own?.fingerprints ?? [])],
    candidates: (own?.candidates ?? []).map((x) => ({ ...x, id: '' })), sctp: own?.sctp ?? null };
  if (j.group?.semantics === 'BUNDLE' && j.group.contents.includes(c.name)) {
    for (const n of j.group.contents) {
      const o = j.contents.find((x) => x.name === n)?.transport;
      if (!o) continue;
      if (t.ufrag === '' && o.ufrag !== '') [t.ufrag, t.pwd] = [o.ufrag, o.pwd];
      if (t.fingerprints.length === 0) t.fingerprints = [...o.fingerprints];
    }
  }
  const setup = t.fingerprints.find((fp) => fp.setup)?.setup ?? '';
  t.fingerprints = t.fingerprints.map((fp) => ({ hash: fp.hash.toLowerCase(), setup, value: fp.value }));
  if (t.sctp) t.sctp = { port: t.sctp.port, protocol: t.sctp.protocol || 'webrtc-datachannel', streams: 0 };
  return t;
}

function canonicalDescription(d) {
  const ptime = d.payloadTypes.find((p) => p.ptime)?.ptime ?? 0;
  const maxptime = d.payloadTypes.find((p) => p.maxptime)?.maxptime ?? 0;
  const msid = d.sources.flatMap((s) => s.parameters).find((p) => p.name === 'msid')?.value ?? '';
  return {
    ...d, ssrc: '',
    payloadTypes: d.payloadTypes.map((p) => ({ ...p, ptime, maxptime, name: p.clockRate ? p.name : '' })),
    headerExtensions: d.headerExtensions.map((x) => ({ ...x, senders: x.senders === 'both' ? '' : x.senders })),
    sources: d.sources.filter((s) => s.parameters.length).map((s) => ({
      ssrc: s.ssrc,
      parameters: msid && !s.parameters.some((p) => p.name === 'msid') ? [...s.parameters, { name: 'msid', value: msid }] : s.parameters,
    })),
  };
}

function withoutIDs(j) {
  return {
    group: j.group,
    contents: j.contents.map((c) => ({ ...c, transport: c.transport && { ...c.transport, candidates: c.transport.candidates.map((x) => ({ ...x, id: '' })) } })),
  };
}

// ---- the vectors ----

for (const v of vectors) {
  const jingle = () => parseJingle(parse(v.jingle));

  // The cross-check: the Go tests assert the same against the same files.
  test(`${v.name}: Jingle to SDP gives the vector's SDP`, () => {
    assertSameSDP(jingleToSDP(parse(v.jingle), v.role), v.sdp);
  });

  test(`${v.name}: SDP to Jingle gives the vector's Jingle`, () => {
    assert.deepEqual(withoutIDs(fromSDP(v.sdp, v.role)), canonical(jingle()));
  });

  test(`${v.name}: SDP to Jingle to SDP keeps the media`, () => {
    assertSameSDP(toSDP(fromSDP(v.sdp, v.role), v.role), v.sdp);
  });

  test(`${v.name}: Jingle to SDP to Jingle keeps what SDP carries`, () => {
    const j = jingle();
    assert.deepEqual(withoutIDs(fromSDP(toSDP(j, v.role), v.role)), canonical(j));
  });

  test(`${v.name}: element round trip`, () => {
    const j = jingle();
    assert.deepEqual(parseJingle(parse(serialize(jingleElement(j)))), j);
  });

  test(`${v.name}: sdpToJingle gives elements`, () => {
    const { contents, group } = sdpToJingle(v.sdp, v.role);
    const j = fromSDP(v.sdp, v.role);
    assert.deepEqual(contents.map((c) => serialize(c, 'urn:xmpp:jingle:1')),
      jingleElement(j).children.filter((c) => c.name === 'content').map((c) => serialize(c, 'urn:xmpp:jingle:1')));
    assert.equal(group !== null, j.group !== null);
  });
}

// ---- invalid inputs ----

for (const inv of invalid) {
  test(`refuses ${inv.kind}/${inv.name}`, () => {
    const run = {
      jingle: () => parseJingle(parse(inv.input)),
      tosdp: () => toSDP(parseJingle(parse(inv.input)), 'initiator'),
      sdp: () => fromSDP(inv.input, 'initiator'),
      candidate: () => candidateFromSDP(inv.input),
    }[inv.kind];
    assert.ok(run, `unknown kind ${inv.kind}`);
    if (inv.kind === 'tosdp') parseJingle(parse(inv.input)); // must parse: only ToSDP refuses
    assert.throws(run, (err) => err instanceof JingleError && err.condition === inv.condition);
  });
}

// ---- candidates, directions, details ----

test('candidateFromSDP reads browser candidates', () => {
  const c = candidateFromSDP('a=candidate:842163049 1 UDP 1686052607 203.0.113.7 51842 typ srflx raddr 192.168.1.40 rport 51842 generation 2 ufrag x network-id 3 network-cost 10');
  assert.deepEqual({ ...c, id: '' }, { foundation: '842163049', component: 1, protocol: 'udp', priority: 1686052607,
    ip: '203.0.113.7', port: 51842, type: 'srflx', generation: 2, network: 3, id: '', relAddr: '192.168.1.40', relPort: 51842, tcpType: '' });
  assert.deepEqual(candidateFromSDP(candidateToSDP(c)), c);
  assert.deepEqual(candidateFromElement(parse(serialize(candidateElement(c)))), c);
  const tcp = candidateFromSDP('candidate:1 1 tcp 1518280447 2001:db8::1 9 typ host tcptype active');
  assert.equal(tcp.tcpType, 'active');
});

test('candidate ids are FNV-1a of the SDP form, as in Go', () => {
  const c = candidateFromSDP('candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host');
  assert.equal(candidateToSDP(c), 'candidate:1 1 udp 2130706431 10.0.1.1 8998 typ host generation 0');
  assert.equal(c.id, 'cd4e81c30');
});

test('end-of-candidates is no candidate', () => {
  assert.equal(candidateFromSDP('a=end-of-candidates'), null);
  const j = fromSDP('v=0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\na=end-of-candidates\r\n', 'initiator');
  assert.equal(j.contents[0].transport.candidates.length, 0);
});

test('senders map to the direction of the SDP side', () => {
  const cases = [['', 'initiator', 'sendrecv'], ['none', 'initiator', 'inactive'], ['initiator', 'initiator', 'sendonly'],
    ['initiator', 'responder', 'recvonly'], ['responder', 'initiator', 'recvonly'], ['responder', 'responder', 'sendonly']];
  for (const [senders, role, dir] of cases) {
    const xml = `<jingle xmlns='urn:xmpp:jingle:1' action='content-modify' sid='s'><content name='0' senders='${senders}'>`
      + "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/>"
      + `<rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' uri='urn:x' senders='${senders}'/></description></content></jingle>`;
    const sdp = jingleToSDP(parse(xml), /** @type {any} */ (role));
    assert.match(sdp, new RegExp(`\r\na=${dir}\r\n`), `${senders} as ${role}`);
    assert.match(sdp, new RegExp(`\r\na=extmap:1${dir === 'sendrecv' ? '' : `/${dir}`} urn:x\r\n`));
    assert.equal(fromSDP(sdp, /** @type {any} */ (role)).contents[0].senders, senders || 'both');
  }
});

test('o= is derived from the sid as in Go', () => {
  const xml = "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='a73sjjvkla37jfea'><content name='0'>"
    + "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0'/></description></content></jingle>";
  assert.match(jingleToSDP(parse(xml), 'initiator'), /\r\no=- 984800379 2 IN IP4 0\.0\.0\.0\r\n/);
});

test('a bad role is refused', () => {
  assert.throws(() => fromSDP('v=0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n', /** @type {any} */ ('both')), JingleError);
});

test('rejected m-lines are left out, bundle-only ones kept', () => {
  const j = fromSDP('v=0\r\na=group:BUNDLE 0 1 2\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n'
    + 'm=audio 0 RTP/AVP 0\r\na=mid:1\r\nm=audio 0 RTP/AVP 0\r\na=mid:2\r\na=bundle-only\r\n', 'initiator');
  assert.deepEqual(j.contents.map((c) => c.name), ['0', '2']);
  assert.deepEqual(j.group?.contents, ['0', '2']);
});

test('oversized SDP is refused', () => {
  const big = 'v=0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n' + 'a=x-filler\r\n'.repeat((512 << 10) / 12 + 1);
  assert.throws(() => fromSDP(big, 'initiator'), /larger/);
});

test('unknown extensions are ignored, Jitsi placements understood', () => {
  const j = parseJingle(parse(`<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s' foo='bar'>
    <unknown xmlns='urn:example:x'><content name='not-a-content'/></unknown>
    <content name='0'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>
      <payload-type id='96' name='VP8' clockrate='90000'><parameter value='x-only'/><parameter/></payload-type>
      <rtcp-mux xmlns='urn:example:not-rtp'/></description>
      <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><rtcp-mux/></transport></content></jingle>`));
  assert.equal(j.contents.length, 1);
  assert.equal(j.contents[0].creator, 'initiator');
  assert.equal(j.contents[0].description?.rtcpMux, true);
  assert.deepEqual(j.contents[0].description?.payloadTypes[0].parameters, [{ name: 'x-only', value: '' }]);
});

test('session-terminate reason round trip', () => {
  const j = parseJingle(parse(`<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'>
    <reason><failed-transport/><text>ICE failed</text></reason></jingle>`));
  assert.deepEqual(j.reason, { condition: 'failed-transport', text: 'ICE failed' });
  assert.deepEqual(parseJingle(parse(serialize(jingleElement(j)))), j);
});

// ---- mutated vectors: the properties Go's FuzzFromSDP checks ----

/** mulberry32: a small seeded PRNG, so that the run is reproducible. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(sdp, rand) {
  const lines = sdp.split('\r\n');
  const pick = () => Math.floor(rand() * lines.length);
  const chars = ' :/=;*01979abcmsvz-\r\n\u00a0\u0085';
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const i = pick();
    switch (Math.floor(rand() * 4)) {
      case 0: lines.splice(i, 1); break;
      case 1: lines.splice(i, 0, lines[pick()]); break;
      case 2: [lines[i], lines[pick()]] = [lines[pick()], lines[i]]; break;
      default: {
        const l = lines[i] ?? '';
        const at = Math.floor(rand() * (l.length + 1));
        lines[i] = l.slice(0, at) + chars[Math.floor(rand() * chars.length)] + l.slice(at + (rand() < 0.5 ? 1 : 0));
      }
    }
  }
  return lines.join('\r\n');
}

test('mutated SDPs either fail cleanly or convert back and forth unchanged', () => {
  const rand = rng(20261120);
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const v = vectors[i % vectors.length];
    const sdp = mutate(v.sdp, rand);
    let j;
    try {
      j = fromSDP(sdp, v.role);
    } catch (err) {
      assert.ok(err instanceof JingleError, `${err} for\n${sdp}`);
      continue;
    }
    accepted++;
    j.action = 'session-initiate';
    j.sid = 'm';
    assert.deepEqual(parseJingle(parse(serialize(jingleElement(j)))), j, sdp);
    const again = fromSDP(toSDP(j, v.role), v.role);
    assert.deepEqual({ ...again, action: j.action, sid: j.sid }, j, sdp);
  }
  assert.ok(accepted > 300, `only ${accepted} mutations were valid SDP`);
});
