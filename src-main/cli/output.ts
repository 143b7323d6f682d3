/** Text output for the CLI: aligned tables, account labels, times, and a progress spinner. */
import type { AccountSummary } from '../engine/accounts.js';

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Where a person can answer (the vault passphrase); default process.stdin. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
}

/** Somewhere to ask a person: stdin and stderr both on a terminal. */
export function terminalOf(io: CliIO): { input: NonNullable<CliIO['stdin']>; output: NodeJS.WritableStream } | undefined {
  const input = io.stdin ?? process.stdin;
  return input.isTTY && io.stderr.isTTY ? { input, output: io.stderr } : undefined;
}

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** JSON for scripts, as every `--json` prints it. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** What a list command prints: with --json the list as JSON, else a table on stdout, or one line on stderr when there is nothing to list. */
export function printList<T>(io: CliIO, items: readonly T[], how: { json: boolean; empty: string; header: string[]; row: (item: T) => string[] }): void {
  if (how.json) return void io.stdout.write(jsonText(items));
  if (items.length === 0) return void io.stderr.write(`${how.empty}\n`);
  io.stdout.write(table([how.header, ...items.map(how.row)]));
}

export function accountLabel(a: AccountSummary): string {
  const who = a.name && a.email ? `${a.name} <${a.email}>` : (a.name ?? a.email ?? a.username ?? a.subject);
  return who;
}

export function relativeTime(epochMs: number, now = Date.now()): string {
  const s = Math.round((epochMs - now) / 1000);
  const abs = Math.abs(s);
  const text = abs < 90 ? `${abs} s` : abs < 5400 ? `${Math.round(abs / 60)} min` : abs < 129_600 ? `${Math.round(abs / 3600)} h` : `${Math.round(abs / 86_400)} d`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

/**
 * A one-line spinner on stderr while waiting on a person. Only on a terminal:
 * in scripts and logs it prints the message once instead of control characters.
 */
export function startSpinner(io: CliIO, message: string): { stop(final?: string): void } {
  if (!io.stderr.isTTY || io.env.CI) {
    io.stderr.write(`${message}\n`);
    return { stop: (final) => void (final && io.stderr.write(`${final}\n`)) };
  }
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let i = 0;
  const draw = () => io.stderr.write(`\r${frames[i++ % frames.length]} ${message}`);
  draw();
  const timer = setInterval(draw, 100);
  return {
    stop(final) {
      clearInterval(timer);
      io.stderr.write(`\r\x1b[2K${final ? `${final}\n` : ''}`);
    },
  };
}
