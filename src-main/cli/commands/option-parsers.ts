/**
 * Commander parsers for option values: a bad value is a usage error (exit 2)
 * that names the option. The rules themselves live in arg-checks.ts, shared
 * with the lean entry points.
 */
import { InvalidArgumentError } from 'commander';
import { isAbsoluteUrl, isScope, isSeconds } from '../arg-checks.js';

export function seconds(value: string): number {
  if (!isSeconds(value)) throw new InvalidArgumentError('expected a whole number of seconds.');
  return Number(value);
}

export function scopeArg(value: string): string {
  if (!isScope(value)) throw new InvalidArgumentError('expected space-separated scope names, e.g. "openid profile".');
  return value.trim();
}

export function portArg(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) throw new InvalidArgumentError('expected a port number from 1 to 65535.');
  return Number(value);
}

export function urlArg(value: string): string {
  if (!isAbsoluteUrl(value)) throw new InvalidArgumentError('expected an absolute URL.');
  return value;
}
