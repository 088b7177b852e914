// @ts-check
/**
 * The pre-join screen: name, password when the room asks, camera preview,
 * microphone meter, speaker test, device choice, joining with camera or
 * microphone off. The media opened here is handed to the call, so the
 * browser asks only once. A camera turned off is closed, not just
 * disabled, so that its light goes off; the choice is remembered, and the
 * next visit opens no camera until the person turns it on.
 */
import { byId, show, setError } from './dom.js';
import { openMedia, listDevices, stopAll } from './media.js';
import { t, onLanguageChange } from './i18n.js';
import { prefs } from './prefs.js';
import { fillDevices, canPickSpeaker, wireSoundTest } from './settings.js';
import { levelMeter } from './meter.js';
import { setIcon } from './icons.js';
import { initials } from './tiles.js';

/** @typedef {import('./media.js').LocalMedia} LocalMedia */

/**
 * @typedef {object} JoinChoice
 * @property {string} name
 * @property {string} password
 * @property {LocalMedia} media
 * @property {string} speaker the audio output deviceId ('' default)
 * @property {import('../lib/login.js').Login} [login] an account typed here, when the server asked for one
 */

/**
 * @typedef {object} PrejoinOptions
 * @property {string} room
 * @property {string} name a name from the address, if any
 * @property {string} password a password from the address or typed before
 * @property {string} [problem] why we are here again (e.g. the password was wrong)
 * @property {boolean} [needPassword] the room asked for a password
 * @property {{username: string}|null} account ask for an account (the server takes no
 *   guests), with this name filled in; null: no account fields
 * @property {number} maxName
 * @property {(choice: JoinChoice) => void} onJoin
 */

/** The elements of the screen; listeners are added once per page. */
let wired = /** @type {null | ((o: PrejoinOptions) => void)} */ (null);

/** @param {PrejoinOptions} opts */
export function showPrejoin(opts) {
  show('prejoin');
  if (!wired) wired = wire();
  wired(opts);
}

function wire() {
  const nameInput = byId('prejoin-name', HTMLInputElement);
  const pwBox = byId('prejoin-password-box');
  const pwInput = byId('prejoin-password', HTMLInputElement);
  const camSelect = byId('prejoin-camera', HTMLSelectElement);
  const micSelect = byId('prejoin-mic', HTMLSelectElement);
  const spkSelect = byId('prejoin-speaker', HTMLSelectElement);
  const camToggle = byId('prejoin-cam-toggle', HTMLButtonElement);
  const micToggle = byId('prejoin-mic-toggle', HTMLButtonElement);
  const video = byId('preview-video', HTMLVideoElement);
  const empty = byId('preview-empty');
  const avatar = byId('preview-avatar');
  const meterBar = byId('prejoin-meter-bar');
  const meterEl = byId('prejoin-meter');
  const error = byId('prejoin-error');
  const form = byId('prejoin-form', HTMLFormElement);
  const accountBox = byId('prejoin-account-box');
  const userInput = byId('prejoin-user', HTMLInputElement);
  const secretInput = byId('prejoin-secret', HTMLInputElement);
  byId('prejoin-speaker-box').hidden = !canPickSpeaker();

  /** @type {PrejoinOptions} */
  let opts;
  /** @type {LocalMedia} */
  let media = { stream: new MediaStream(), problems: [] };
  let generation = 0; // the latest openMedia call wins
  let camOff = prefs.startOff().camera;
  let micOff = prefs.startOff().mic;
  /** @type {ReturnType<typeof levelMeter>|null} */
  let meter = null;
  let meterTimer = 0;
  let problem = '';

  const refreshToggles = () => {
    micToggle.setAttribute('aria-pressed', String(micOff));
    camToggle.setAttribute('aria-pressed', String(camOff));
    const micLabel = t(micOff ? 'controls.micOn' : 'controls.micOff');
    const camLabel = t(camOff ? 'controls.cameraOn' : 'controls.cameraOff');
    micToggle.setAttribute('aria-label', micLabel);
    micToggle.title = micLabel;
    camToggle.setAttribute('aria-label', camLabel);
    camToggle.title = camLabel;
    setIcon(micToggle, micOff ? 'micOff' : 'mic');
    setIcon(camToggle, camOff ? 'cameraOff' : 'camera');
    for (const tr of media.stream.getAudioTracks()) tr.enabled = !micOff;
    for (const tr of media.stream.getVideoTracks()) tr.enabled = !camOff;
    const hasVideo = media.stream.getVideoTracks().length > 0 && !camOff;
    empty.hidden = hasVideo;
    video.hidden = !hasVideo;
    avatar.textContent = initials(nameInput.value || '?');
  };

  const startMeter = () => {
    meter?.stop();
    clearInterval(meterTimer);
    const track = media.stream.getAudioTracks()[0];
    if (!track) return;
    meter = levelMeter(track);
    meterTimer = window.setInterval(() => {
      const v = micOff ? 0 : (meter?.level() ?? 0);
      const pct = Math.round(v * 100);
      meterBar.style.width = `${pct}%`;
      meterEl.setAttribute('aria-valuenow', String(pct));
    }, 100);
  };

  let busy = Promise.resolve(); // the media job running, see serial
  /**
   * serial runs media work one job at a time: opening devices and closing
   * the camera must not overtake each other, or a camera could stay open
   * (its light on) outside the stream we show and hand over.
   * @param {() => Promise<void>} job
   */
  const serial = (job) => {
    const run = busy.then(job);
    busy = run.catch((err) => console.warn('parley: media', err));
    return run;
  };

  /** open (re)opens the microphone, and the camera unless it is off. */
  const open = () => serial(async () => {
    const mine = ++generation;
    stopAll(media.stream);
    const next = await openMedia({ camera: !camOff, cameraId: camSelect.value || undefined, micId: micSelect.value || undefined });
    if (mine !== generation) {
      stopAll(next.stream);
      return;
    }
    media = next;
    video.srcObject = media.stream.getVideoTracks().length ? media.stream : null;
    setError(error, [problem, ...media.problems].filter(Boolean).join(' '));
    refreshToggles();
    startMeter();
    await fillAll();
    await applyCamera();
  });

  async function fillAll() {
    const { cameras, mics, speakers } = await listDevices();
    const cam = media.stream.getVideoTracks()[0]?.getSettings().deviceId ?? camSelect.value;
    const mic = media.stream.getAudioTracks()[0]?.getSettings().deviceId ?? micSelect.value;
    fillDevices(camSelect, cameras, cam, (i) => t('devices.cameraN', { n: i }), t('devices.noCamera'));
    fillDevices(micSelect, mics, mic, (i) => t('devices.micN', { n: i }), t('devices.noMic'));
    fillDevices(spkSelect, speakers, spkSelect.value || prefs.devices().speaker || '', (i) => t('devices.speakerN', { n: i }), t('devices.noSpeaker'));
  }

  /**
   * applyCamera brings the camera to what camOff says: closed (its light
   * goes off) or opened alone, leaving the microphone as it is.
   */
  async function applyCamera() {
    const mine = generation;
    if (camOff) {
      for (const tr of media.stream.getVideoTracks()) {
        media.stream.removeTrack(tr);
        tr.stop();
      }
    } else if (media.stream.getVideoTracks().length === 0) {
      const cam = await openMedia({ mic: false, cameraId: camSelect.value || undefined });
      if (mine !== generation || camOff) {
        stopAll(cam.stream); // handed over, reopened or turned off meanwhile
        return;
      }
      for (const tr of cam.stream.getVideoTracks()) media.stream.addTrack(tr);
      setError(error, [problem, ...cam.problems].filter(Boolean).join(' '));
      await fillAll();
    }
    video.srcObject = media.stream.getVideoTracks().length ? media.stream : null;
    refreshToggles();
  }

  camSelect.addEventListener('change', () => { prefs.setDevices({ camera: camSelect.value }); open(); });
  micSelect.addEventListener('change', () => { prefs.setDevices({ mic: micSelect.value }); open(); });
  spkSelect.addEventListener('change', () => prefs.setDevices({ speaker: spkSelect.value }));
  wireSoundTest(byId('prejoin-test-sound', HTMLButtonElement), byId('prejoin-sound-status'), () => spkSelect.value);
  camToggle.addEventListener('click', () => {
    camOff = !camOff;
    prefs.setStartOff({ camera: camOff, mic: micOff });
    refreshToggles();
    serial(applyCamera);
  });
  micToggle.addEventListener('click', () => {
    micOff = !micOff;
    prefs.setStartOff({ camera: camOff, mic: micOff });
    refreshToggles();
  });
  nameInput.addEventListener('input', () => { avatar.textContent = initials(nameInput.value || '?'); });
  onLanguageChange(() => { refreshToggles(); fillAll(); });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = nameInput.value.trim();
    if (!name) {
      setError(error, t('prejoin.needName'));
      return;
    }
    if (!accountBox.hidden && (!userInput.value.trim() || !secretInput.value)) {
      setError(error, t('login.needAccount'));
      return;
    }
    if (!pwBox.hidden && !pwInput.value) {
      setError(error, t('prejoin.needPassword'));
      return;
    }
    prefs.setName(name);
    generation++; // no late preview may replace what we hand over
    video.srcObject = null;
    meter?.stop();
    clearInterval(meterTimer);
    /** @type {JoinChoice} */
    const choice = { name, password: pwBox.hidden ? opts.password : pwInput.value, media: { ...media, videoOff: camOff }, speaker: spkSelect.value };
    if (!accountBox.hidden) choice.login = { kind: 'account', username: userInput.value.trim(), password: secretInput.value };
    secretInput.value = '';
    opts.onJoin(choice);
  });

  return (/** @type {PrejoinOptions} */ o) => {
    opts = o;
    problem = o.problem ?? '';
    byId('prejoin-room').textContent = o.room;
    nameInput.maxLength = o.maxName;
    nameInput.value = o.name || prefs.name();
    pwBox.hidden = !(o.needPassword || o.password);
    pwInput.value = o.password;
    accountBox.hidden = !o.account;
    if (o.account && !userInput.value) userInput.value = o.account.username;
    setError(error, problem);
    if (o.account) (userInput.value ? secretInput : userInput).focus();
    else if (!pwBox.hidden && o.needPassword) pwInput.focus();
    open();
  };
}
