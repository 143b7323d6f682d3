/**
 * One timer serving many deadlines that are set far more often than they
 * expire (a request's timeout, a connection's idle limit). Setting and
 * clearing a Node timer per request costs about a microsecond each, several
 * times per round trip; here, asking for a check no earlier than the one
 * already pending is free, and when the timer fires the owner's `check`
 * handles what is due and says when to look next.
 *
 * Both ends of the socket use it (the agent's connections and slots, the
 * client's calls), so it lives with the wire contract.
 *
 * Times are `performance.now()` milliseconds: monotonic, so a wall-clock jump
 * neither fires a deadline early nor holds it back.
 */
export class DeadlineTimer {
  readonly #check: (now: number) => number;
  #timer: NodeJS.Timeout | undefined;
  #at = Infinity;

  /** `check` handles everything due at `now` and returns the next deadline (Infinity for none). */
  constructor(check: (now: number) => number) {
    this.#check = check;
  }

  /** Makes sure `check` runs at `at` or (by at most a timer tick) after it, never before. */
  ensure(at: number): void {
    if (at >= this.#at) return;
    clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, Math.ceil(at - performance.now())));
    this.#timer.unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }

  #fire(): void {
    const at = this.#at;
    this.#timer = undefined;
    this.#at = Infinity;
    // Node times a timer from the event loop's cached clock, which lags `performance.now()`
    // (by a fraction of a millisecond, or by a whole busy stretch under load), so it can fire
    // before the deadline: then wait the rest, so `check` is never asked before its time.
    const now = performance.now();
    if (now < at) {
      this.ensure(at);
      return;
    }
    const next = this.#check(now);
    if (next < Infinity) this.ensure(next);
  }
}

/** Something waiting with a deadline: a client's call, a connection's request. */
export interface Deadlined {
  readonly deadline: number;
  timeOut(): void;
}

/**
 * The usual `check` of a {@link DeadlineTimer}: times out everything due at
 * `now` and returns the next deadline. Works on a copy, since a time-out
 * removes its entry from `waiting`.
 */
export function expireDue(waiting: Iterable<Deadlined>, now: number): number {
  let next = Infinity;
  for (const item of [...waiting]) {
    if (item.deadline <= now) item.timeOut();
    else next = Math.min(next, item.deadline);
  }
  return next;
}
