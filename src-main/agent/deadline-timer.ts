/**
 * One timer serving many deadlines that are set far more often than they
 * expire (a request's timeout, a connection's idle limit). Setting and
 * clearing a Node timer per request costs about a microsecond each, several
 * times per round trip; here, asking for a check no earlier than the one
 * already pending is free, and when the timer fires the owner's `check`
 * handles what is due and says when to look next.
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
    this.#timer = undefined;
    this.#at = Infinity;
    // A timer may fire a fraction of a millisecond before `performance.now()` reaches its
    // deadline; `check` then finds it not yet due and returns it, and we wait the rest.
    const next = this.#check(performance.now());
    if (next < Infinity) this.ensure(next);
  }
}
