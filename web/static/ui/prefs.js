// @ts-check
/**
 * What the browser remembers for the user (localStorage): display name,
 * chosen devices, recent rooms, whether to start with the camera or the
 * microphone off, and the video quality to receive. Private browsing may refuse storage;
 * then nothing is remembered and nothing fails.
 */

const KEYS = { name: 'parley.name', recent: 'parley.recent', devices: 'parley.devices', startOff: 'parley.startOff', quality: 'parley.quality', sendQuality: 'parley.sendQuality' };
const MAX_RECENT = 8;

/** @param {string} key */
function get(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** @param {string} key @param {string} value */
function put(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage refused: not remembered
  }
}

export const prefs = {
  name: () => get(KEYS.name) ?? '',
  /** @param {string} name */
  setName: (name) => put(KEYS.name, name),

  /** @returns {{room: string, at: number}[]} newest first */
  recent() {
    try {
      const list = JSON.parse(get(KEYS.recent) ?? '[]');
      return Array.isArray(list) ? list.filter((r) => r && typeof r.room === 'string' && typeof r.at === 'number') : [];
    } catch {
      return [];
    }
  },
  /** @param {string} room */
  addRecent(room) {
    const list = [{ room, at: Date.now() }, ...prefs.recent().filter((r) => r.room !== room)].slice(0, MAX_RECENT);
    put(KEYS.recent, JSON.stringify(list));
  },

  /** @returns {{camera?: string, mic?: string, speaker?: string}} deviceIds */
  devices() {
    try {
      const d = JSON.parse(get(KEYS.devices) ?? '{}');
      return d && typeof d === 'object' ? d : {};
    } catch {
      return {};
    }
  },
  /** @param {{camera?: string, mic?: string, speaker?: string}} d */
  setDevices(d) {
    put(KEYS.devices, JSON.stringify({ ...prefs.devices(), ...d }));
  },

  /** @returns {{camera: boolean, mic: boolean}} what the pre-join screen starts with turned off */
  startOff() {
    try {
      const d = JSON.parse(get(KEYS.startOff) ?? '{}');
      return { camera: d?.camera === true, mic: d?.mic === true };
    } catch {
      return { camera: false, mic: false };
    }
  },
  /** @param {{camera: boolean, mic: boolean}} off */
  setStartOff(off) {
    put(KEYS.startOff, JSON.stringify({ camera: off.camera, mic: off.mic }));
  },

  /** @returns {'high'|'medium'|'low'} the video quality to receive */
  quality() {
    const q = get(KEYS.quality);
    return q === 'medium' || q === 'low' ? q : 'high';
  },
  /** @param {'high'|'medium'|'low'} q */
  setQuality: (q) => put(KEYS.quality, q),

  /** @returns {'high'|'medium'|'low'} the camera quality to send */
  sendQuality() {
    const q = get(KEYS.sendQuality);
    return q === 'medium' || q === 'low' ? q : 'high';
  },
  /** @param {'high'|'medium'|'low'} q */
  setSendQuality: (q) => put(KEYS.sendQuality, q),
};
