/**
 * A tiny `--name value` / `--name=value` / `--switch` parser for the lean entry
 * points (commander alone costs more start-up time than a cached token).
 * Anything it does not know makes it give up (`undefined`), and the caller
 * hands the command line to the full CLI, which explains the mistake.
 */
import { isAbsoluteUrl, isScope, isSeconds } from '../cli/arg-checks.js';

export type FlagKind = 'string' | 'scope' | 'url' | 'seconds' | 'switch';
export type FlagSpec = Record<string, FlagKind>;
export type Flags = Record<string, string | true>;

/**
 * Longer values go to the full CLI, which checks them before any agent starts
 * and names the option and its limit (provider names: 64, account ids: 256;
 * scopes and URLs: 2048); the common short case stays on the lean path.
 */
const LEAN_MAX_CHARS = 64;

const CHECKS: Record<Exclude<FlagKind, 'switch'>, (v: string) => boolean> = {
  string: (v) => v !== '' && v.length <= LEAN_MAX_CHARS,
  scope: isScope,
  url: isAbsoluteUrl,
  seconds: isSeconds,
};

/** Parses `argv` (flags only, or positional words listed in `words`); `undefined` when anything is off. */
export function parseFlags(argv: readonly string[], spec: FlagSpec, words: readonly string[] = []): { flags: Flags; words: string[] } | undefined {
  const flags: Flags = {};
  const seen: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      if (!words.includes(arg)) return undefined;
      seen.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (!kind || name in flags) return undefined;
    if (kind === 'switch') {
      if (eq >= 0) return undefined;
      flags[name] = true;
      continue;
    }
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value.length > 2048 || !CHECKS[kind](value)) return undefined;
    flags[name] = kind === 'scope' ? value.trim() : value;
  }
  return { flags, words: seen };
}
