// @ts-check
/**
 * Room names: a generated, readable name for a new meeting, and the room a
 * typed name or a pasted meeting link points to. No DOM access.
 */

const ADJECTIVES = ['amber', 'bold', 'brave', 'bright', 'calm', 'clever', 'cosy', 'eager', 'gentle', 'golden', 'happy', 'jolly', 'keen', 'lively', 'lucky', 'merry', 'mighty', 'noble', 'quick', 'quiet', 'rapid', 'silver', 'steady', 'sunny', 'swift', 'tidy', 'vivid', 'warm', 'wise', 'witty'];
const NOUNS = ['badger', 'beacon', 'breeze', 'canyon', 'comet', 'falcon', 'fern', 'forest', 'glacier', 'harbor', 'heron', 'island', 'lagoon', 'lantern', 'maple', 'meadow', 'meteor', 'otter', 'panda', 'pebble', 'planet', 'raven', 'river', 'robin', 'summit', 'thunder', 'tiger', 'valley', 'walrus', 'willow'];
const VERBS = ['dances', 'dreams', 'glides', 'hums', 'jumps', 'laughs', 'listens', 'paints', 'plays', 'reads', 'rises', 'sails', 'sings', 'swims', 'wanders', 'whistles'];

/**
 * generateRoomName returns a name like "bright-otter-sings": 30×30×16
 * combinations, readable aloud; rand is Math.random by default.
 * @param {() => number} [rand]
 */
export function generateRoomName(rand = Math.random) {
  /** @param {string[]} list */
  const pick = (list) => list[Math.floor(rand() * list.length) % list.length];
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${pick(VERBS)}`;
}

/**
 * roomFromInput returns the room a typed text names: a meeting link on
 * this site gives its path's room; anything else is taken as a name. It
 * returns '' when the text holds no letter or digit.
 * @param {string} text
 * @param {string} origin this site, e.g. https://meet.example.org
 */
export function roomFromInput(text, origin) {
  let s = text.trim();
  if (/^https?:\/\//i.test(s)) {
    try {
      const u = new URL(s);
      if (u.origin !== origin) return '';
      s = decodeURIComponent(u.pathname.split('/').filter(Boolean)[0] ?? '');
    } catch {
      return '';
    }
  }
  return /[\p{L}\p{N}]/u.test(s) ? s : '';
}
