// @ts-check
/**
 * Audio levels from a microphone track through Web Audio: the prejoin
 * meter and the speaking outline on tiles (until the server sends
 * dominant-speaker events); and the speaker test's chime.
 */

/** @type {AudioContext|null} one context for the page (browsers limit them) */
let shared = null;

/** audioContext returns the page's AudioContext, made on first use. */
export function audioContext() {
  if (!shared) {
    const ctx = new AudioContext();
    shared = ctx;
    // Browsers start audio only after the person touches the page: the
    // first click or key wakes the meters.
    const wake = () => {
      if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    };
    for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, wake, { capture: true });
  }
  if (shared.state === 'suspended') shared.resume().catch(() => {});
  return shared;
}

/**
 * levelMeter reads a track's loudness, 0..1 (RMS of the waveform, scaled so
 * that speech reaches about 0.5).
 * @param {MediaStreamTrack} track
 * @returns {{level: () => number, stop: () => void}}
 */
export function levelMeter(track) {
  const ctx = audioContext();
  const src = ctx.createMediaStreamSource(new MediaStream([track]));
  const an = ctx.createAnalyser();
  an.fftSize = 512;
  src.connect(an);
  const buf = new Float32Array(an.fftSize);
  return {
    level() {
      an.getFloatTimeDomainData(buf);
      let sum = 0;
      for (const v of buf) sum += v * v;
      return Math.min(1, Math.sqrt(sum / buf.length) * 4);
    },
    stop() {
      src.disconnect();
    },
  };
}

/**
 * chimeWav makes the test sound, two short notes, as a WAV file. A plain
 * audio file needs no AudioContext, which a page without a running audio
 * output (or before any click) may never start.
 * @returns {Blob}
 */
export function chimeWav() {
  const rate = 16000;
  const note = Math.round(rate * 0.22);
  const gap = Math.round(rate * 0.03);
  const n = 2 * (note + gap);
  const buf = new ArrayBuffer(44 + n * 2);
  const v = new DataView(buf);
  const ascii = (/** @type {number} */ at, /** @type {string} */ s) => {
    for (let i = 0; i < s.length; i++) v.setUint8(at + i, s.charCodeAt(i));
  };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + n * 2, true);
  ascii(8, 'WAVEfmt ');
  v.setUint32(16, 16, true); // PCM header size
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, n * 2, true);
  for (const [k, f] of [660, 880].entries()) {
    for (let i = 0; i < note; i++) {
      const fade = Math.min(1, i / 160, (note - i) / 160); // no clicks at the edges
      const s = Math.sin((2 * Math.PI * f * i) / rate) * fade * 0.2;
      v.setInt16(44 + (k * (note + gap) + i) * 2, Math.round(s * 32767), true);
    }
  }
  return new Blob([buf], { type: 'audio/wav' });
}

/**
 * testSound plays the chime on the chosen speaker. It resolves once the
 * chime has played to its end (played true), or with why it could not.
 * @param {string} speakerId '' for the default
 * @returns {Promise<{played: boolean, seconds: number, error: string}>}
 */
export async function testSound(speakerId) {
  const url = URL.createObjectURL(chimeWav());
  const el = new Audio(url);
  try {
    if (speakerId && 'setSinkId' in el) await /** @type {any} */ (el).setSinkId(speakerId);
    const ended = new Promise((resolve, reject) => {
      el.addEventListener('ended', resolve, { once: true });
      el.addEventListener('error', () => reject(new Error(el.error?.message || 'the browser cannot play it')), { once: true });
      setTimeout(() => reject(new Error('it did not finish')), 3000);
    });
    await el.play();
    await ended;
    return { played: true, seconds: el.currentTime, error: '' };
  } catch (err) {
    el.pause();
    return { played: false, seconds: el.currentTime, error: err instanceof Error ? err.message : String(err) };
  } finally {
    URL.revokeObjectURL(url);
  }
}
