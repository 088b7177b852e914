// @ts-check
/**
 * Settings: the language picker (home and call) and the call's settings
 * dialog (name, devices, a speaker test, the video quality to send and receive,
 * language, debug info, shortcuts).
 */
import { byId, h } from './dom.js';
import { LANGUAGES, language, setLanguage, t } from './i18n.js';
import { listDevices } from './media.js';
import { testSound } from './meter.js';

/** Each language named in itself, so that anyone finds theirs. */
const ENDONYMS = { en: 'English', fr: 'Français', es: 'Español' };

/**
 * wireLanguageSelect fills a language select and switches on change.
 * @param {HTMLSelectElement} select
 * @param {AbortSignal} [signal] ends the listener
 */
export function wireLanguageSelect(select, signal) {
  select.replaceChildren(...LANGUAGES.map((l) => {
    const o = h('option', { value: l, lang: l }, [ENDONYMS[l]]);
    o.selected = l === language();
    return o;
  }));
  select.addEventListener('change', () => {
    const l = LANGUAGES.find((x) => x === select.value);
    if (l) setLanguage(l);
  }, { signal });
}

/**
 * fillDevices lists devices of a kind in a select, marking the current one.
 * @param {HTMLSelectElement} select
 * @param {MediaDeviceInfo[]} devices
 * @param {string} selected deviceId
 * @param {(i: number) => string} unnamed a label for a device without one
 * @param {string} none the text when there is none
 */
export function fillDevices(select, devices, selected, unnamed, none) {
  select.replaceChildren(...devices.map((d, i) => {
    const o = h('option', { value: d.deviceId }, [d.label || unnamed(i + 1)]);
    o.selected = d.deviceId === selected;
    return o;
  }));
  if (devices.length === 0) select.append(h('option', { value: '' }, [none]));
  select.disabled = devices.length === 0;
}

/**
 * wireSoundTest makes a button play the speaker test, saying in status
 * whether the chime played to its end (data-seconds: how far it got).
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} status a live region
 * @param {() => string} speaker the chosen output's deviceId
 * @param {AbortSignal} [signal] ends the listener
 */
export function wireSoundTest(button, status, speaker, signal) {
  button.addEventListener('click', async () => {
    button.disabled = true;
    status.textContent = t('settings.soundPlaying');
    delete status.dataset.seconds;
    const r = await testSound(speaker());
    button.disabled = false;
    status.dataset.seconds = r.seconds.toFixed(2);
    status.textContent = r.played ? t('settings.soundPlayed') : t('settings.soundFailed', { detail: r.error });
  }, { signal });
}

/** Whether this browser can pick the speaker for a media element. */
export const canPickSpeaker = () => typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

/**
 * @typedef {object} SettingsHooks
 * @property {() => {camera: string, mic: string, speaker: string, name: string}} current
 * @property {(kind: 'camera'|'mic'|'speaker', deviceId: string) => void} onDevice
 * @property {(name: string) => void} onName
 * @property {() => 'high'|'medium'|'low'} quality the video quality we receive
 * @property {(q: 'high'|'medium'|'low') => void} onQuality
 * @property {() => 'high'|'medium'|'low'} sendQuality the camera quality we send
 * @property {(q: 'high'|'medium'|'low') => void} onSendQuality
 * @property {() => boolean} fill whether tiles are filled (cropped)
 * @property {(fill: boolean) => void} onFill
 * @property {() => void} onDebug
 * @property {() => void} onShortcuts
 * @property {(kind: string, i: number) => string} unnamed
 * @property {(kind: string) => string} none
 */

/**
 * wireSettings makes the dialog work until signal aborts; it returns the
 * function that opens it.
 * @param {SettingsHooks} hooks
 * @param {AbortSignal} signal
 */
export function wireSettings(hooks, signal) {
  const dialog = byId('settings', HTMLDialogElement);
  const cam = byId('settings-camera', HTMLSelectElement);
  const mic = byId('settings-mic', HTMLSelectElement);
  const spk = byId('settings-speaker', HTMLSelectElement);
  const name = byId('settings-name', HTMLInputElement);
  byId('settings-speaker-box').hidden = !canPickSpeaker();
  wireLanguageSelect(byId('settings-lang', HTMLSelectElement), signal);
  cam.addEventListener('change', () => hooks.onDevice('camera', cam.value), { signal });
  mic.addEventListener('change', () => hooks.onDevice('mic', mic.value), { signal });
  spk.addEventListener('change', () => hooks.onDevice('speaker', spk.value), { signal });
  name.addEventListener('change', () => {
    const v = name.value.trim();
    if (v) hooks.onName(v);
  }, { signal });
  const quality = byId('settings-quality', HTMLSelectElement);
  quality.setAttribute('aria-describedby', 'settings-quality-hint');
  quality.addEventListener('change', () => {
    const q = quality.value;
    if (q === 'high' || q === 'medium' || q === 'low') hooks.onQuality(q);
  }, { signal });
  const sendQuality = byId('settings-send-quality', HTMLSelectElement);
  sendQuality.setAttribute('aria-describedby', 'settings-send-quality-hint');
  sendQuality.addEventListener('change', () => {
    const q = sendQuality.value;
    if (q === 'high' || q === 'medium' || q === 'low') hooks.onSendQuality(q);
  }, { signal });
  const soundStatus = byId('settings-sound-status');
  wireSoundTest(byId('settings-test-sound', HTMLButtonElement), soundStatus, () => spk.value || hooks.current().speaker, signal);
  const fill = byId('settings-fill', HTMLInputElement);
  fill.addEventListener('change', () => hooks.onFill(fill.checked), { signal });
  byId('debug-download').addEventListener('click', () => hooks.onDebug(), { signal });
  byId('shortcuts-open').addEventListener('click', () => {
    dialog.close();
    hooks.onShortcuts();
  }, { signal });
  return async () => {
    const now = hooks.current();
    name.value = now.name;
    fill.checked = hooks.fill();
    quality.value = hooks.quality();
    sendQuality.value = hooks.sendQuality();
    soundStatus.textContent = '';
    const d = await listDevices();
    fillDevices(cam, d.cameras, now.camera, (i) => hooks.unnamed('camera', i), hooks.none('camera'));
    fillDevices(mic, d.mics, now.mic, (i) => hooks.unnamed('mic', i), hooks.none('mic'));
    fillDevices(spk, d.speakers, now.speaker, (i) => hooks.unnamed('speaker', i), hooks.none('speaker'));
    if (!dialog.open) dialog.showModal();
  };
}
