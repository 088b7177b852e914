// @ts-check
/**
 * Camera and microphone: opening them with chosen devices, listing devices,
 * and saying in plain words why something failed.
 */

/**
 * @typedef {object} DeviceChoice
 * @property {string} [cameraId] deviceId, '' or undefined for the default
 * @property {string} [micId]
 * @property {boolean} [camera] ask for a camera at all; default true
 * @property {boolean} [mic] ask for a microphone at all; default true
 */

/**
 * @typedef {object} LocalMedia
 * @property {MediaStream} stream the tracks we got (possibly none)
 * @property {string[]} problems plain-words explanations of what is missing
 * @property {boolean} [videoOff] the person chose to start with the camera off: no
 *   camera was opened (its light stays off) until they turn it on
 */

import { t } from './i18n.js';

const VIDEO = { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 24 } };

/**
 * openMedia asks for camera and microphone together, then, if that fails,
 * for each alone, so that a refused camera still lets someone talk.
 * @param {DeviceChoice} choice
 * @returns {Promise<LocalMedia>}
 */
export async function openMedia(choice = {}) {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) {
    return { stream: new MediaStream(), problems: [t('media.insecure')] };
  }
  const wantCam = choice.camera !== false;
  const wantMic = choice.mic !== false;
  const video = wantCam ? { ...VIDEO, ...(choice.cameraId ? { deviceId: { exact: choice.cameraId } } : {}) } : false;
  const audio = wantMic ? (choice.micId ? { deviceId: { exact: choice.micId } } : true) : false;
  if (!video && !audio) return { stream: new MediaStream(), problems: [] };
  try {
    return { stream: await md.getUserMedia({ video, audio }), problems: [] };
  } catch (both) {
    if (!video || !audio) return { stream: new MediaStream(), problems: [explain(both, video ? 'camera' : 'microphone')] };
    const stream = new MediaStream();
    const problems = [];
    for (const [kind, constraints] of /** @type {const} */ ([['microphone', { audio }], ['camera', { video }]])) {
      try {
        const s = await md.getUserMedia(constraints);
        s.getTracks().forEach((t) => stream.addTrack(t));
      } catch (err) {
        problems.push(explain(err, kind));
      }
    }
    return { stream, problems };
  }
}

/**
 * explain turns a getUserMedia failure into a sentence.
 * @param {unknown} err
 * @param {'camera'|'microphone'} what
 */
export function explain(err, what) {
  const name = err instanceof Error || (err && typeof err === 'object' && 'name' in err) ? /** @type {any} */ (err).name : '';
  const cam = what === 'camera';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return t(cam ? 'media.cameraRefused' : 'media.micRefused');
    case 'NotFoundError':
    case 'OverconstrainedError':
      return t(cam ? 'media.cameraMissing' : 'media.micMissing');
    case 'NotReadableError':
    case 'AbortError':
      return t(cam ? 'media.cameraBusy' : 'media.micBusy');
    default:
      return t(cam ? 'media.cameraFailed' : 'media.micFailed', { detail: err instanceof Error ? err.message : String(err) });
  }
}

/**
 * listDevices returns the cameras and microphones. Labels are empty until
 * the page has been granted access once.
 * @returns {Promise<{cameras: MediaDeviceInfo[], mics: MediaDeviceInfo[], speakers: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  const md = navigator.mediaDevices;
  if (!md || !md.enumerateDevices) return { cameras: [], mics: [], speakers: [] };
  const all = await md.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
    mics: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
    speakers: all.filter((d) => d.kind === 'audiooutput' && d.deviceId),
  };
}

/**
 * openTrack opens one new camera or microphone track on a chosen device,
 * for switching during a call.
 * @param {'camera'|'mic'} kind
 * @param {string} deviceId
 * @returns {Promise<MediaStreamTrack>}
 */
export async function openTrack(kind, deviceId) {
  const id = deviceId ? { deviceId: { exact: deviceId } } : {};
  const s = await navigator.mediaDevices.getUserMedia(kind === 'camera' ? { video: { ...VIDEO, ...id } } : { audio: deviceId ? id : true });
  const track = s.getTracks()[0];
  if (!track) throw new Error(`no ${kind} track`);
  return track;
}

/** stopAll ends every track of a stream. @param {MediaStream|null} stream */
export function stopAll(stream) {
  stream?.getTracks().forEach((t) => t.stop());
}
