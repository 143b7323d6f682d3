/**
 * Hooks over the preload API (`window.latchkey`): components render, these
 * fetch, subscribe and call. Errors arrive as `{ code, message }` values and
 * become a {@link UiError} here, at the edge, where words are chosen.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { Channel, DesktopEvent, LatchkeyApi, Params, Results } from '../src-preload/contract.js';
import type { ErrorCode, WireError } from '../src-main/errors.js';

declare global {
  interface Window {
    latchkey: LatchkeyApi;
  }
}

export class UiError extends Error {
  readonly code: ErrorCode;
  constructor(wire: WireError) {
    super(wire.message);
    this.code = wire.code;
  }
}

type Args<C extends Channel> = void extends Params<C> ? [Params<C>?] : [Params<C>];

/** Calls main; resolves with the result or rejects with a UiError. */
export async function call<C extends Channel>(channel: C, ...params: Args<C>): Promise<Results[C]> {
  const outcome = await window.latchkey.invoke(channel, ...params);
  if (!outcome.ok) throw new UiError(outcome.error);
  return outcome.value;
}

/** Runs `listener` for each event main pushes, for the component's lifetime. */
export function useDesktopEvent(listener: (event: DesktopEvent) => void): void {
  const latest = useRef(listener);
  latest.current = listener;
  useEffect(() => window.latchkey.onEvent((e) => latest.current(e)), []);
}

export interface Query<T> {
  data: T | undefined;
  error: UiError | undefined;
  reload: () => void;
}

/** Reads a channel, and reads it again whenever one of `refreshOn` events arrives. */
export function useQuery<C extends Channel>(channel: C, params: Args<C>, refreshOn: DesktopEvent['type'][] = []): Query<Results[C]> {
  const [data, setData] = useState<Results[C]>();
  const [error, setError] = useState<UiError>();
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(params);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    call(channel, ...(JSON.parse(key ?? '[]') as Args<C>)).then(
      (value) => live && (setData(value), setError(undefined)),
      (err: UiError) => live && setError(err),
    );
    return () => {
      live = false;
    };
  }, [channel, key, tick]);
  useDesktopEvent((e) => {
    if (refreshOn.includes(e.type)) reload();
  });
  return { data, error, reload };
}

/** A call started by the person (a button): tracks running state and the last error. */
export function useAction<A extends unknown[], R>(action: (...args: A) => Promise<R>): { run: (...args: A) => Promise<R | undefined>; running: boolean; error: UiError | undefined; reset: () => void } {
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<UiError>();
  const run = useCallback(
    async (...args: A) => {
      setRunning(true);
      setError(undefined);
      try {
        return await action(...args);
      } catch (err) {
        setError(err instanceof UiError ? err : new UiError({ code: 'internal', message: String(err) }));
        return undefined;
      } finally {
        setRunning(false);
      }
    },
    [action],
  );
  // Forgets the last error, e.g. once the input it was about has changed.
  const reset = useCallback(() => setError(undefined), []);
  return { run, running, error, reset };
}

/** Seconds left until `deadline` (epoch ms), ticking once a second. */
export function useCountdown(deadline: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return Math.max(0, Math.ceil((deadline - now) / 1000));
}

export function newFlowId(): string {
  return crypto.randomUUID();
}
