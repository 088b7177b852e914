// @ts-check
/**
 * Audio levels from a microphone track through Web Audio: the prejoin
 * meter and the speaking outline on tiles (until the server sends
 * dominant-speaker events).
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
 * testSound plays a short two-note chime on the chosen speaker.
 * @param {string} speakerId '' for the default
 */
export async function testSound(speakerId) {
  const ctx = new AudioContext();
  const dest = ctx.createMediaStreamDestination();
  const gain = ctx.createGain();
  gain.gain.value = 0.2;
  gain.connect(dest);
  for (const [i, f] of [660, 880].entries()) {
    const osc = ctx.createOscillator();
    osc.frequency.value = f;
    osc.connect(gain);
    osc.start(ctx.currentTime + i * 0.25);
    osc.stop(ctx.currentTime + i * 0.25 + 0.22);
  }
  const el = new Audio();
  el.srcObject = dest.stream;
  if (speakerId && 'setSinkId' in el) await /** @type {any} */ (el).setSinkId(speakerId).catch(() => {});
  await el.play().catch(() => {});
  setTimeout(() => {
    el.srcObject = null;
    ctx.close().catch(() => {});
  }, 800);
}
