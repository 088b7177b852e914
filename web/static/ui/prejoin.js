// @ts-check
/**
 * The pre-join screen: display name, camera preview, device choice. The
 * media opened here is handed to the call, so the browser asks only once.
 */
import { byId, show, setError, h } from './dom.js';
import { openMedia, listDevices, stopAll } from './media.js';

/** @typedef {import('./media.js').LocalMedia} LocalMedia */

const NAME_KEY = 'parley.name';

/**
 * @typedef {object} PrejoinOptions
 * @property {string} room
 * @property {string} name a name from the address, if any
 * @property {number} maxName
 * @property {(choice: {name: string, media: LocalMedia}) => void} onJoin
 */

/** @param {PrejoinOptions} opts */
export function showPrejoin(opts) {
  show('prejoin');
  byId('prejoin-room').textContent = opts.room;
  const nameInput = byId('prejoin-name', HTMLInputElement);
  const camSelect = byId('prejoin-camera', HTMLSelectElement);
  const micSelect = byId('prejoin-mic', HTMLSelectElement);
  const video = byId('preview-video', HTMLVideoElement);
  const empty = byId('preview-empty');
  const error = byId('prejoin-error');
  const form = byId('prejoin-form', HTMLFormElement);
  nameInput.maxLength = opts.maxName;
  nameInput.value = opts.name || safeGet(NAME_KEY);

  /** @type {LocalMedia} */
  let media = { stream: new MediaStream(), problems: [] };
  let generation = 0; // the latest openMedia call wins

  async function open() {
    const mine = ++generation;
    stopAll(media.stream);
    const next = await openMedia({ cameraId: camSelect.value || undefined, micId: micSelect.value || undefined });
    if (mine !== generation) {
      stopAll(next.stream);
      return;
    }
    media = next;
    const hasVideo = media.stream.getVideoTracks().length > 0;
    video.srcObject = hasVideo ? media.stream : null;
    empty.hidden = hasVideo;
    setError(error, media.problems.join(' '));
    await fillDevices();
  }

  async function fillDevices() {
    const { cameras, mics } = await listDevices();
    const current = {
      cam: media.stream.getVideoTracks()[0]?.getSettings().deviceId ?? camSelect.value,
      mic: media.stream.getAudioTracks()[0]?.getSettings().deviceId ?? micSelect.value,
    };
    fill(camSelect, cameras, current.cam, 'Camera');
    fill(micSelect, mics, current.mic, 'Microphone');
  }

  camSelect.addEventListener('change', open);
  micSelect.addEventListener('change', open);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = nameInput.value.trim();
    if (!name) {
      setError(error, 'Please enter your name.');
      return;
    }
    safeSet(NAME_KEY, name);
    generation++; // no late preview may replace what we hand over
    video.srcObject = null;
    opts.onJoin({ name, media });
  });
  open();
}

/**
 * @param {HTMLSelectElement} select
 * @param {MediaDeviceInfo[]} devices
 * @param {string} selected
 * @param {string} noun
 */
function fill(select, devices, selected, noun) {
  select.replaceChildren(
    ...devices.map((d, i) => {
      const o = h('option', { value: d.deviceId }, [d.label || `${noun} ${i + 1}`]);
      o.selected = d.deviceId === selected;
      return o;
    }),
  );
  if (devices.length === 0) select.append(h('option', { value: '' }, [`No ${noun.toLowerCase()} found`]));
  select.disabled = devices.length === 0;
}

/** @param {string} key */
function safeGet(key) {
  try {
    return localStorage.getItem(key) ?? '';
  } catch {
    return '';
  }
}

/** @param {string} key @param {string} value */
function safeSet(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // private mode: the name is just not remembered
  }
}
