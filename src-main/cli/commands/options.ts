/**
 * Option values and the options several commands share. A bad value is a
 * usage error (exit 2) that names the option; the rules themselves live in
 * arg-checks.ts, shared with the lean entry points. The shared options are
 * made here once so every command that picks an account or narrows a token
 * spells and explains them the same way.
 */
import { InvalidArgumentError, Option } from 'commander';
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

/** `--account`: which signed-in account a command acts for. */
export function accountOption(): Option {
  return new Option('--account <id>', 'account id, email or user name (default: the only one)');
}

/** `--provider` as an account picker (not `login`'s, which picks where to sign in). */
export function providerOption(description = 'pick the account by provider'): Option {
  return new Option('--provider <name>', description);
}

/** `--scope` for a token request. */
export function scopeOption(description = 'narrow the token to these scopes'): Option {
  return new Option('--scope <scopes>', description).argParser(scopeArg);
}

/** `--resource` for a token request. */
export function resourceOption(): Option {
  return new Option('--resource <uri>', 'audience-restrict the token (RFC 8707)').argParser(urlArg);
}
