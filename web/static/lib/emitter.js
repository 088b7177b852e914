// @ts-check
/**
 * A minimal typed event emitter shared by the protocol library. Listeners
 * run synchronously in registration order; one that throws is reported to
 * the `onListenerError` hook and does not stop the others.
 *
 * @template {Record<string, any[]>} Events  event name -> listener arguments
 */
export class Emitter {
  constructor() {
    /** @type {Map<keyof Events, Set<Function>>} listeners by event; owned by this emitter */
    this.listeners = new Map();
    /** @type {(err: unknown, event: PropertyKey) => void} reports a listener that threw */
    this.onListenerError = (err, event) => console.error(`listener for ${String(event)} failed`, err);
  }

  /**
   * on adds a listener and returns the function that removes it.
   * @template {keyof Events} K
   * @param {K} event
   * @param {(...args: Events[K]) => void} fn
   * @returns {() => void}
   */
  on(event, fn) {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * once adds a listener that runs at most once.
   * @template {keyof Events} K
   * @param {K} event
   * @param {(...args: Events[K]) => void} fn
   * @returns {() => void}
   */
  once(event, fn) {
    const off = this.on(event, (...args) => {
      off();
      fn(...args);
    });
    return off;
  }

  /**
   * emit calls every listener of event with args.
   * @template {keyof Events} K
   * @param {K} event
   * @param {Events[K]} args
   */
  emit(event, ...args) {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }

  /** @param {keyof Events} event @returns {boolean} whether anyone listens */
  has(event) {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }
}
