// @ts-check
/**
 * The participants panel: everyone in the room, ourselves first, with role,
 * microphone state and raised hand, and the moderator actions the room
 * grants us over each.
 */
import { h } from './dom.js';
import { icon } from './icons.js';
import { t } from './i18n.js';
import { canModerate } from './callstate.js';

/** @typedef {import('./callstate.js').CallState} CallState */
/** @typedef {import('./callstate.js').Member} Member */
/** @typedef {'mute'|'muteVideo'|'askUnmute'|'kick'|'promote'|'lowerHand'} Action */

/**
 * sortMembers puts ourselves first, then raised hands in the order raised,
 * then everyone by name.
 * @param {Member[]} list
 */
export function sortMembers(list) {
  return [...list].sort((a, b) => Number(b.self) - Number(a.self)
    || (a.state.hand ?? Infinity) - (b.state.hand ?? Infinity)
    || a.displayName.localeCompare(b.displayName));
}

/** @type {[Action, string, string][]} */
const ACTIONS = [
  ['lowerHand', 'people.lowerHand', 'people.lowerHandNamed'], ['mute', 'people.mute', 'people.muteNamed'],
  ['muteVideo', 'people.muteVideo', 'people.muteVideoNamed'], ['askUnmute', 'people.askUnmute', 'people.askUnmuteNamed'],
  ['promote', 'people.promote', 'people.promoteNamed'], ['kick', 'people.kick', 'people.kickNamed'],
];

/**
 * The member each row stands for, updated on every render, so that a
 * row kept from an earlier render acts on the member as it is now.
 * @type {WeakMap<Element, Member>}
 */
const rowMember = new WeakMap();

/**
 * renderPeople fills the list and its heading. A row whose content has
 * not changed is kept, not rebuilt: the list renders on every change in
 * the call, and a rebuilt row loses the keyboard focus and any click
 * aimed at it.
 * @param {HTMLElement} list
 * @param {HTMLElement} title
 * @param {CallState} s
 * @param {(action: Action, m: Member) => void} act
 */
export function renderPeople(list, title, s, act) {
  const members = sortMembers([...s.members.values()]);
  const me = members.find((m) => m.self);
  title.textContent = t('people.title', { count: members.length });
  /** @type {Map<string, HTMLElement>} */
  const kept = new Map();
  for (const li of list.children) if (li instanceof HTMLElement && li.dataset.nick) kept.set(li.dataset.nick, li);
  const rows = members.map((m) => {
    const can = canModerate(me, m);
    const actions = ACTIONS.filter(([a]) => can[a]);
    const name = m.self ? t('people.you', { name: m.displayName }) : m.displayName;
    const key = JSON.stringify([document.documentElement.lang, name, m.role, m.phone, m.state.hand !== null, m.state.audio, m.state.video, actions.map(([a]) => a)]);
    let li = kept.get(m.nick);
    if (!li || li.dataset.key !== key) {
      li = personRow(m, name, actions, (a) => act(a, rowMember.get(/** @type {HTMLElement} */ (li)) ?? m));
      li.dataset.key = key;
    }
    rowMember.set(li, m);
    return li;
  });
  // Reordering moves nodes, which also drops focus: only when it changed.
  if (rows.length !== list.children.length || rows.some((li, i) => list.children[i] !== li)) list.replaceChildren(...rows);
}

/**
 * personRow builds one member's row.
 * @param {Member} m
 * @param {string} name
 * @param {[Action, string, string][]} actions the moderator actions offered
 * @param {(action: Action) => void} act
 */
function personRow(m, name, actions, act) {
  const role = m.role === 'moderator' ? t('people.moderator') : m.role === 'visitor' ? t('people.visitor') : '';
  const state = [];
  if (m.phone) state.push(h('span', { class: 'badge phone', role: 'img', 'aria-label': t('tile.phone'), title: t('tile.phone') }, [icon('phone')]));
  if (m.state.hand !== null) state.push(h('span', { class: 'badge hand', role: 'img', 'aria-label': t('tile.hand'), title: t('tile.hand') }, [icon('hand')]));
  if (m.state.audio !== 'on') state.push(h('span', { class: 'badge muted', role: 'img', 'aria-label': t('tile.muted'), title: t('tile.muted') }, [icon('micOff')]));
  if (m.state.video !== 'on') state.push(h('span', { class: 'badge', role: 'img', 'aria-label': t('tile.cameraOff'), title: t('tile.cameraOff') }, [icon('cameraOff')]));
  const buttons = actions.map(([a, key, named]) => {
    const b = h('button', { type: 'button', class: `small act-${a}`, 'aria-label': t(named, { name: m.displayName }) }, [t(key)]);
    b.addEventListener('click', () => act(a));
    return b;
  });
  return h('li', { 'data-nick': m.nick, class: m.self ? 'self' : '' }, [
    h('span', { class: 'who' }, [h('span', { class: 'pname' }, [name]), role ? h('span', { class: 'role' }, [role]) : '']),
    h('span', { class: 'pstate' }, state),
    buttons.length ? h('span', { class: 'actions' }, buttons) : '',
  ]);
}
