// @ts-check
/** The home screen: type a room name, go to its address. */
import { byId, show, setError } from './dom.js';

export function showHome() {
  show('home');
  const form = byId('home-form', HTMLFormElement);
  const input = byId('home-room', HTMLInputElement);
  const error = byId('home-error');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = input.value.trim();
    // The server turns the name into its normal form (or sends us back here).
    if (!/[\p{L}\p{N}]/u.test(name)) {
      setError(error, 'A room name needs at least one letter or digit.');
      return;
    }
    location.assign(`/${encodeURIComponent(name)}`);
  });
}
