// @ts-check
/**
 * Icons: simple stroked 24×24 SVG drawings, built with DOM calls (no
 * markup strings). Buttons marked data-icon="NAME" get theirs at start.
 */

const SVG = 'http://www.w3.org/2000/svg';

/** @type {Record<string, string[]>} path data per icon */
const PATHS = {
  mic: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3'],
  micOff: ['M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3z', 'M5 11a7 7 0 0 0 14 0', 'M12 18v3', 'M3 3l18 18'],
  camera: ['M3 7h12v10H3z', 'M15 10l6-3v10l-6-3'],
  cameraOff: ['M3 7h12v10H3z', 'M15 10l6-3v10l-6-3', 'M2 3l19 18'],
  screen: ['M3 4h18v12H3z', 'M8 20h8', 'M12 16v4', 'M12 13V7', 'M9 10l3-3 3 3'],
  hand: ['M8 13V5a1.5 1.5 0 0 1 3 0v6', 'M11 11V4a1.5 1.5 0 0 1 3 0v7', 'M14 11V5.5a1.5 1.5 0 0 1 3 0V14a7 7 0 0 1-7 7h-.5A6 6 0 0 1 4 16l-1.5-3a1.5 1.5 0 0 1 2.6-1.5L8 14'],
  smile: ['M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z', 'M8 14s1.5 2 4 2 4-2 4-2', 'M9 9h.01', 'M15 9h.01'],
  chat: ['M4 5h16v11H9l-5 4z'],
  people: ['M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M2 21v-1a6 6 0 0 1 12 0v1', 'M16 3.5a4 4 0 0 1 0 7.5', 'M22 21v-1a6 6 0 0 0-4-5.6'],
  settings: ['M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M19.4 15a1.7 1.7 0 0 0 .3 1.8l.1.1a2 2 0 1 1-2.8 2.8l-.1-.1a1.7 1.7 0 0 0-1.8-.3 1.7 1.7 0 0 0-1 1.5V21a2 2 0 1 1-4 0v-.1a1.7 1.7 0 0 0-1.1-1.5 1.7 1.7 0 0 0-1.8.3l-.1.1a2 2 0 1 1-2.8-2.8l.1-.1a1.7 1.7 0 0 0 .3-1.8 1.7 1.7 0 0 0-1.5-1H3a2 2 0 1 1 0-4h.1a1.7 1.7 0 0 0 1.5-1.1 1.7 1.7 0 0 0-.3-1.8l-.1-.1a2 2 0 1 1 2.8-2.8l.1.1a1.7 1.7 0 0 0 1.8.3H9a1.7 1.7 0 0 0 1-1.5V3a2 2 0 1 1 4 0v.1a1.7 1.7 0 0 0 1 1.5 1.7 1.7 0 0 0 1.8-.3l.1-.1a2 2 0 1 1 2.8 2.8l-.1.1a1.7 1.7 0 0 0-.3 1.8V9a1.7 1.7 0 0 0 1.5 1H21a2 2 0 1 1 0 4h-.1a1.7 1.7 0 0 0-1.5 1z'],
  leave: ['M10 17l-5-5 5-5', 'M5 12h11', 'M14 4h5v16h-5'],
  layout: ['M3 4h18v16H3z', 'M3 15h18', 'M9 15v5', 'M15 15v5'],
  send: ['M4 12l16-8-6 16-2-7z'],
  prev: ['M15 6l-6 6 6 6'],
  next: ['M9 6l6 6-6 6'],
  pin: ['M9 4h6l-1 6 3 3H7l3-3z', 'M12 13v7'],
  signal: ['M4 20v-3', 'M9 20v-7', 'M14 20v-11', 'M19 20V5'],
  more: ['M5 12h.01', 'M12 12h.01', 'M19 12h.01'],
  phone: ['M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2z'],
  invite: ['M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M2 21v-1a6 6 0 0 1 12 0v1', 'M19 8v6', 'M16 11h6'],
  record: ['M12 19a7 7 0 1 0 0-14 7 7 0 0 0 0 14z', 'M12 14a2 2 0 1 0 0-4 2 2 0 0 0 0 4z'],
};

/**
 * icon returns a new SVG element for name (hidden from screen readers:
 * the control it sits in has the name).
 * @param {string} name
 */
export function icon(name) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name}`);
  for (const d of PATHS[name] ?? []) {
    const p = document.createElementNS(SVG, 'path');
    p.setAttribute('d', d);
    svg.append(p);
  }
  return svg;
}

/**
 * setIcon replaces the icon at the start of el.
 * @param {Element} el
 * @param {string} name
 */
export function setIcon(el, name) {
  const old = el.querySelector(':scope > svg.icon');
  const next = icon(name);
  if (old) old.replaceWith(next);
  else el.prepend(next);
}

/** placeIcons gives every [data-icon] element its icon. @param {ParentNode} root */
export function placeIcons(root) {
  for (const el of root.querySelectorAll('[data-icon]')) setIcon(el, el.getAttribute('data-icon') ?? '');
}
