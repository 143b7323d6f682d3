/**
 * Numbers and layout for `npm run bench`: nearest-rank percentiles, medians
 * over rounds, units, and an aligned plain-text report on stdout (progress
 * goes to stderr so the report stays clean).
 */
import { cpus, loadavg, release, totalmem } from 'node:os';

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(samples: readonly number[]): number {
  return percentile(samples, 50);
}

/** Milliseconds since `start` (a `performance.now()` value). */
export function since(start: number): number {
  return performance.now() - start;
}

export const fmt = {
  us: (v: number) => `${v.toFixed(1)} µs`,
  ms: (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(1)} ms`,
  mib: (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`,
  kib: (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`,
  ratio: (v: number) => `${v.toFixed(2)}×`,
  count: (v: number) => v.toLocaleString('en-US'),
};

const LABEL_WIDTH = 52;
const VALUE_WIDTH = 14;

/** One figure of issue 10's performance table, as this run measured it. */
export interface TargetRow {
  figure: string;
  value: string;
  /** What it is measured against: a floor measured in this run, or the figure before (issue 10). */
  baseline: string;
  target: string;
  /** undefined: not measured in this run (the note says why). */
  met: boolean | undefined;
  note?: string;
}

export class Report {
  readonly #out: NodeJS.WritableStream;
  readonly #targets: TargetRow[] = [];

  /** Remembers a figure for the summary printed by {@link targets}. */
  target(row: TargetRow): void {
    this.#targets.push(row);
  }

  /** The table of issue 10: every figure beside its baseline, with "target met / not met". */
  targets(): void {
    this.section('Targets (issue 10): each figure, its baseline in this run or before, and the target');
    for (const t of this.#targets) {
      const verdict = t.met === undefined ? 'not measured' : t.met ? 'target met' : 'target NOT met';
      this.#line(`  ${t.figure}`);
      this.#line(`      ${t.value}   vs baseline ${t.baseline}   target ${t.target}   → ${verdict}${t.note ? ` (${t.note})` : ''}`);
    }
  }

  constructor(out: NodeJS.WritableStream = process.stdout) {
    this.#out = out;
  }

  header(): void {
    const cpu = cpus();
    this.#line('Latchkey benchmark');
    this.#line('==================');
    this.row('machine', `${cpu.length} cpus`, `${cpu[0]?.model.trim() ?? 'unknown cpu'}, ${fmt.mib(totalmem())} RAM`);
    this.row('runtime', `node ${process.versions.node}`, `${process.platform} ${release()}, V8 ${process.versions.v8}`);
    this.row('date', new Date().toISOString().slice(0, 19).replace('T', ' '), 'UTC');
    this.row('load average at start (1 min)', loadavg()[0]!.toFixed(2), busyNote());
  }

  footer(elapsedMs: number): void {
    this.#line('');
    this.row('total bench time', `${(elapsedMs / 1000).toFixed(1)} s`);
    this.row('load average at end (1 min)', loadavg()[0]!.toFixed(2), 'includes this bench and its children');
  }

  section(title: string): void {
    this.#line('');
    this.#line(title);
    this.#line('-'.repeat(title.length));
  }

  /**
   * One aligned line: label, the statistic the value is (`p50`, `median`; at
   * the label's right edge), the value right-aligned, then a free-form note.
   */
  row(label: string, value: string, note = '', stat = ''): void {
    const left = stat ? `${label.padEnd(LABEL_WIDTH - stat.length - 1)} ${stat}` : label.padEnd(LABEL_WIDTH);
    this.#line(`  ${left} ${value.padStart(VALUE_WIDTH)}${note ? `   ${note}` : ''}`);
  }

  note(text: string): void {
    this.#line(`  ${text}`);
  }

  #line(text: string): void {
    this.#out.write(`${text}\n`);
  }
}

/** Other work on the machine shows up in every figure here; say so next to the load. */
function busyNote(): string {
  return loadavg()[0]! > cpus().length / 2 ? 'other work is running: expect noisy figures' : '';
}

export function progress(text: string): void {
  process.stderr.write(`  … ${text}\n`);
}
