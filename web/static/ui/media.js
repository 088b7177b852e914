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
 */

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
    return { stream: new MediaStream(), problems: ['This page cannot use a camera or microphone here (it needs HTTPS or localhost).'] };
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
  const What = what === 'camera' ? 'Camera' : 'Microphone';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `${What} access was refused. Allow it in the browser's site settings to be ${what === 'camera' ? 'seen' : 'heard'}.`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `No ${what} was found.`;
    case 'NotReadableError':
    case 'AbortError':
      return `The ${what} is in use by another program or could not start.`;
    default:
      return `The ${what} could not be opened${err instanceof Error && err.message ? ` (${err.message})` : ''}.`;
  }
}

/**
 * listDevices returns the cameras and microphones. Labels are empty until
 * the page has been granted access once.
 * @returns {Promise<{cameras: MediaDeviceInfo[], mics: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  const md = navigator.mediaDevices;
  if (!md || !md.enumerateDevices) return { cameras: [], mics: [] };
  const all = await md.enumerateDevices();
  return {
    cameras: all.filter((d) => d.kind === 'videoinput'),
    mics: all.filter((d) => d.kind === 'audioinput'),
  };
}

/** stopAll ends every track of a stream. @param {MediaStream|null} stream */
export function stopAll(stream) {
  stream?.getTracks().forEach((t) => t.stop());
}
