// @ts-check
/**
 * The home screen: start a meeting under a generated name, or join one by
 * name or link; recent rooms; language.
 */
import { byId, show, setError, h } from './dom.js';
import { t, formatTime, onLanguageChange } from './i18n.js';
import { generateRoomName, roomFromInput } from './roomname.js';
import { prefs } from './prefs.js';
import { wireLanguageSelect } from './settings.js';

export function showHome() {
  show('home');
  document.title = 'parley';
  const form = byId('home-form', HTMLFormElement);
  const input = byId('home-room', HTMLInputElement);
  const error = byId('home-error');
  wireLanguageSelect(byId('home-lang', HTMLSelectElement));
  byId('home-start').addEventListener('click', () => location.assign(`/${encodeURIComponent(generateRoomName())}`));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const room = roomFromInput(input.value, location.origin);
    // The server turns the name into its normal form (or sends us back here).
    if (!room) {
      setError(error, t('home.badName'));
      return;
    }
    location.assign(`/${encodeURIComponent(room)}`);
  });
  renderRecent();
  onLanguageChange(renderRecent);
}

function renderRecent() {
  const list = prefs.recent();
  byId('home-recent-box').hidden = list.length === 0;
  byId('home-recent').replaceChildren(...list.map((r) => h('li', {}, [
    h('a', { href: `/${encodeURIComponent(r.room)}` }, [r.room]),
    h('span', { class: 'when' }, [t('home.lastJoined', { when: formatTime(new Date(r.at), true) })]),
  ])));
}
