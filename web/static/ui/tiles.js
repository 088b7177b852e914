// @ts-check
/**
 * The video stage: one tile per participant (and one per shared screen),
 * in tile view (a paged grid) or speaker view (one large tile and a
 * filmstrip). A tile shows the video without cropping (unless the user
 * asks to fill), the name, a muted-microphone icon, a raised hand, the
 * connection quality, a speaking outline, and the initials when there is
 * no picture. Reactions float over the sender's tile.
 */
import { h } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';
import { splitVideos } from './callstate.js';

/** @typedef {import('./callstate.js').Member} Member */
/** @typedef {import('./callstate.js').CallState} CallState */

/**
 * initials returns up to two capital letters for an avatar.
 * @param {string} name
 */
export function initials(name) {
  const words = name.trim().split(/\s+/u).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words;
  return letters.map((w) => [...w][0] ?? '').join('').toLocaleUpperCase() || '?';
}

/**
 * hue picks a stable avatar colour for a name (dark enough for white text).
 * @param {string} name
 */
function hue(name) {
  let x = 0;
  for (const c of name) x = (x * 31 + (c.codePointAt(0) ?? 0)) % 360;
  return x;
}

/**
 * @typedef {object} Tile
 * @property {string} key the member's nick, or nick + '#screen'
 * @property {HTMLElement} el
 * @property {HTMLVideoElement} video
 * @property {HTMLElement} avatar
 * @property {HTMLElement} name
 * @property {HTMLElement} muted
 * @property {HTMLElement} hand
 * @property {HTMLElement} phone the phone icon, for a phone call
 * @property {HTMLElement} quality
 * @property {HTMLButtonElement} pin
 * @property {HTMLElement} reactions
 */

/**
 * bestColumns picks the number of columns that makes n tiles of 16:9 the
 * largest in a width × height area (8 px gaps).
 * @param {number} n
 * @param {number} width
 * @param {number} height
 */
export function bestColumns(n, width, height) {
  let best = 1;
  let bestWidth = 0;
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = Math.min((width - 8 * (cols + 1)) / cols, ((height - 8 * (rows + 1)) / rows) * 16 / 9);
    if (w > bestWidth + 0.5) {
      best = cols;
      bestWidth = w;
    }
  }
  return best;
}

/** How many tiles a page of tile view holds, by the stage's width. @param {number} width */
function pageSize(width) {
  if (width < 600) return 4;
  if (width < 1400) return 9;
  return 16;
}

export class Stage {
  /**
   * @param {HTMLElement} grid
   * @param {{onPin: (key: string) => void, onPage: () => void}} hooks
   */
  constructor(grid, hooks) {
    this.grid = grid; // immutable
    this.hooks = hooks; // immutable
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    this.page = 0; // tile view's page, from 0
    this.pages = 1;
  }

  /**
   * tile returns the tile for key, making it.
   * @param {string} key
   * @param {boolean} self
   */
  tile(key, self) {
    let tile = this.tiles.get(key);
    if (tile) return tile;
    const video = h('video', { autoplay: '', playsinline: '' });
    video.muted = true; // sound plays through separate audio elements
    const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' });
    const name = h('span', { class: 'name' });
    const muted = h('span', { class: 'badge muted', role: 'img' }, [icon('micOff')]);
    const hand = h('span', { class: 'badge hand', role: 'img' }, [icon('hand')]);
    const phone = h('span', { class: 'badge phone', role: 'img', hidden: '' }, [icon('phone')]);
    const quality = h('span', { class: 'quality', role: 'img' }, [icon('signal')]);
    const pin = h('button', { type: 'button', class: 'pin round small', 'aria-pressed': 'false' }, [icon('pin')]);
    const reactions = h('div', { class: 'reactions', 'aria-live': 'polite' });
    const label = h('div', { class: 'label' }, [phone, muted, name, hand]);
    const el = h('div', { class: `tile${self ? ' self' : ''}`, 'data-nick': key, role: 'group' }, [avatar, video, label, quality, pin, reactions]);
    pin.addEventListener('click', () => this.hooks.onPin(key));
    tile = { key, el, video, avatar, name, muted, hand, phone, quality, pin, reactions };
    this.tiles.set(key, tile);
    return tile;
  }

  /** @param {string} key */
  remove(key) {
    const tile = this.tiles.get(key);
    if (!tile) return;
    tile.video.srcObject = null;
    tile.el.remove();
    this.tiles.delete(key);
  }

  /**
   * render brings every tile up to date with the state and lays them out.
   * @param {CallState} s
   */
  render(s) {
    const wanted = new Set();
    for (const m of s.members.values()) {
      const key = m.self ? '' : m.nick;
      wanted.add(key);
      this.fill(this.tile(key, m.self), m, false, s);
      if (m.screen) {
        wanted.add(`${key}#screen`);
        this.fill(this.tile(`${key}#screen`, false), m, true, s);
      }
    }
    for (const key of [...this.tiles.keys()]) if (!wanted.has(key)) this.remove(key);
    this.layout(s);
  }

  /**
   * @param {Tile} tile
   * @param {Member} m
   * @param {boolean} screen
   * @param {CallState} s
   */
  fill(tile, m, screen, s) {
    const stream = screen ? m.screen : m.camera;
    if (tile.video.srcObject !== stream) {
      tile.video.srcObject = stream;
      if (stream) tile.video.play().catch(() => {});
    }
    const cameraOff = !screen && (m.state.video !== 'on' || !stream);
    tile.video.hidden = cameraOff;
    tile.avatar.hidden = !cameraOff;
    tile.avatar.textContent = initials(m.displayName);
    tile.avatar.style.setProperty('--hue', String(hue(m.displayName)));
    const display = m.self ? t('people.you', { name: m.displayName }) : m.displayName;
    tile.name.textContent = screen ? t('tile.screenOf', { name: m.displayName }) : display;
    tile.el.setAttribute('aria-label', tile.name.textContent);
    tile.el.classList.toggle('screen', screen);
    tile.el.classList.toggle('mirror', m.self && !screen);
    tile.el.classList.toggle('fill', s.fill && !screen);
    tile.el.classList.toggle('speaking', !screen && m.speaking && m.state.audio === 'on');
    tile.muted.hidden = screen || m.state.audio === 'on';
    tile.muted.setAttribute('aria-label', t(m.state.audio === 'none' ? 'tile.noMic' : 'tile.muted'));
    tile.hand.hidden = screen || m.state.hand === null;
    tile.hand.setAttribute('aria-label', t('tile.hand'));
    tile.phone.hidden = screen || !m.phone;
    tile.phone.setAttribute('aria-label', t('tile.phone'));
    tile.phone.title = t('tile.phone');
    tile.quality.hidden = m.self || screen || !m.quality;
    tile.quality.className = `quality q-${m.quality ?? 'none'}`;
    tile.quality.setAttribute('aria-label', t('quality.detail', {
      quality: t({ good: 'quality.good', fair: 'quality.fair', poor: 'quality.poor' }[m.quality ?? 'good']), kbps: String(m.kbps),
    }));
    tile.quality.title = tile.quality.getAttribute('aria-label') ?? '';
    const pinned = s.pinned === tile.key;
    tile.pin.setAttribute('aria-pressed', String(pinned));
    const pinLabel = t(pinned ? 'tile.unpin' : 'tile.pin', { name: tile.name.textContent });
    tile.pin.setAttribute('aria-label', pinLabel);
    tile.pin.title = pinLabel;
  }

  /**
   * videoHeights says how tall, in device pixels, each remote video is
   * shown now, by track id (RemoteTrack.trackId): its tile's height, or 0
   * when no tile on screen shows it (another page, a camera that is off).
   * The SFU forwards the smallest layer that fills the tile and pauses a
   * video shown nowhere (docs/SIGNALLING.md, receive-video). Null while the
   * stage is not laid out (the call screen hidden): nothing to say yet.
   * @param {CallState} s
   * @returns {Record<string, number>|null}
   */
  videoHeights(s) {
    if (!this.grid.isConnected || this.grid.clientHeight === 0) return null;
    const dpr = window.devicePixelRatio || 1;
    /** @type {Record<string, number>} */
    const out = {};
    for (const m of s.members.values()) {
      if (m.self) continue;
      const { camera, screen } = splitVideos(m.videos);
      for (const [track, key] of /** @type {const} */ ([[camera, m.nick], [screen, `${m.nick}#screen`]])) {
        if (!track) continue;
        const tile = this.tiles.get(key);
        const shown = tile !== undefined && tile.el.parentElement === this.grid && !tile.video.hidden;
        out[track.trackId] = shown ? Math.round(tile.video.clientHeight * dpr) : 0;
      }
    }
    return out;
  }

  /**
   * mainKey picks the large tile of speaker view: the pinned one, else a
   * shared screen, else the latest remote speaker, else anyone remote.
   * @param {CallState} s
   */
  mainKey(s) {
    if (s.pinned && this.tiles.has(s.pinned)) return s.pinned;
    const members = [...s.members.values()];
    const sharing = members.find((m) => m.screen);
    if (sharing) return `${sharing.self ? '' : sharing.nick}#screen`;
    // The server's dominant speaker when it names one (not ourselves: we
    // know what we look like), else the latest speaker by audio level.
    const dominant = s.members.get(s.dominant);
    if (dominant && !dominant.self) return dominant.nick;
    const remote = members.filter((m) => !m.self).sort((a, b) => b.lastSpoke - a.lastSpoke);
    return remote[0]?.nick ?? '';
  }

  /** @param {CallState} s */
  layout(s) {
    const order = [...this.tiles.keys()].sort((a, b) => this.rank(s, a) - this.rank(s, b));
    this.grid.classList.toggle('speaker-view', s.layout === 'speaker');
    let shown;
    if (s.layout === 'speaker') {
      const main = this.mainKey(s);
      const strip = order.filter((k) => k !== main);
      shown = [main, ...strip];
      this.pages = 1;
      for (const [k, tile] of this.tiles) tile.el.classList.toggle('main', k === main);
    } else {
      for (const tile of this.tiles.values()) tile.el.classList.remove('main');
      const size = pageSize(this.grid.clientWidth || window.innerWidth);
      this.pages = Math.max(1, Math.ceil(order.length / size));
      this.page = Math.min(this.page, this.pages - 1);
      shown = order.slice(this.page * size, (this.page + 1) * size);
    }
    const els = shown.map((k) => this.tiles.get(k)?.el).filter((e) => e !== undefined);
    // Reattach only when the set or order changed: moving a playing video pauses it in some browsers.
    const same = els.length === this.grid.children.length && els.every((e, i) => this.grid.children[i] === e);
    if (!same) {
      this.grid.replaceChildren(...els);
      for (const e of els) e.querySelector('video')?.play().catch(() => {});
    }
    const n = s.layout === 'speaker' ? 1 : Math.max(1, els.length);
    const cols = bestColumns(n, this.grid.clientWidth || window.innerWidth, this.grid.clientHeight || window.innerHeight);
    this.grid.style.setProperty('--cols', String(cols));
    this.grid.style.setProperty('--rows', String(Math.ceil(n / cols)));
    this.hooks.onPage();
  }

  /**
   * rank orders tiles: screens first, then self, then by latest speech,
   * then by name.
   * @param {CallState} s
   * @param {string} key
   */
  rank(s, key) {
    if (key.endsWith('#screen')) return -2e15;
    if (key === '') return -1e15;
    const m = s.members.get(key);
    return m ? -m.lastSpoke : 0;
  }

  /**
   * react floats an emoji over a member's tile for a few seconds.
   * @param {string} key
   * @param {string} emoji
   */
  react(key, emoji) {
    const tile = this.tiles.get(key);
    if (!tile) return;
    const e = h('span', { class: 'reaction' }, [emoji]);
    tile.reactions.append(e);
    setTimeout(() => e.remove(), 4000);
  }
}
