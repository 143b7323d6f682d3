/**
 * Concurrency primitives for token refresh.
 *
 * Refresh tokens rotate (OAuth 2.0 Security BCP §4.14): using one twice can make
 * the provider revoke the whole grant. So all refreshes of one account run one
 * at a time ({@link KeyedMutex}), and identical concurrent requests share one
 * provider call ({@link SingleFlight}).
 */

export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  /** Runs `task` unless a call with the same key is already running, in which case its result is shared. */
  run(key: string, task: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = task().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  get size(): number {
    return this.inflight.size;
  }
}

export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task with the same key has settled. */
  async lock<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
