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

/**
 * renderPeople fills the list and its heading.
 * @param {HTMLElement} list
 * @param {HTMLElement} title
 * @param {CallState} s
 * @param {(action: Action, m: Member) => void} act
 */
export function renderPeople(list, title, s, act) {
  const members = sortMembers([...s.members.values()]);
  const me = members.find((m) => m.self);
  title.textContent = t('people.title', { count: members.length });
  list.replaceChildren(...members.map((m) => {
    const name = m.self ? t('people.you', { name: m.displayName }) : m.displayName;
    const role = m.role === 'moderator' ? t('people.moderator') : m.role === 'visitor' ? t('people.visitor') : '';
    const state = [];
    if (m.phone) state.push(h('span', { class: 'badge phone', role: 'img', 'aria-label': t('tile.phone'), title: t('tile.phone') }, [icon('phone')]));
    if (m.state.hand !== null) state.push(h('span', { class: 'badge hand', role: 'img', 'aria-label': t('tile.hand'), title: t('tile.hand') }, [icon('hand')]));
    if (m.state.audio !== 'on') state.push(h('span', { class: 'badge muted', role: 'img', 'aria-label': t('tile.muted'), title: t('tile.muted') }, [icon('micOff')]));
    if (m.state.video !== 'on') state.push(h('span', { class: 'badge', role: 'img', 'aria-label': t('tile.cameraOff'), title: t('tile.cameraOff') }, [icon('cameraOff')]));
    const can = canModerate(me, m);
    /** @type {[Action, string, string][]} */
    const actions = [
      ['lowerHand', 'people.lowerHand', 'people.lowerHandNamed'], ['mute', 'people.mute', 'people.muteNamed'],
      ['muteVideo', 'people.muteVideo', 'people.muteVideoNamed'], ['askUnmute', 'people.askUnmute', 'people.askUnmuteNamed'],
      ['promote', 'people.promote', 'people.promoteNamed'], ['kick', 'people.kick', 'people.kickNamed'],
    ];
    const buttons = actions.filter(([a]) => can[a]).map(([a, key, named]) => {
      const b = h('button', { type: 'button', class: `small act-${a}`, 'aria-label': t(named, { name: m.displayName }) }, [t(key)]);
      b.addEventListener('click', () => act(a, m));
      return b;
    });
    return h('li', { 'data-nick': m.nick, class: m.self ? 'self' : '' }, [
      h('span', { class: 'who' }, [h('span', { class: 'pname' }, [name]), role ? h('span', { class: 'role' }, [role]) : '']),
      h('span', { class: 'pstate' }, state),
      buttons.length ? h('span', { class: 'actions' }, buttons) : '',
    ]);
  }));
}
