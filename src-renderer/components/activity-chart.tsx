/**
 * Token requests per app over time, as plain SVG: one row of bars per app,
 * one bar per time bucket. Also readable as a table for screen readers.
 */
import type { AuditEntry } from '../../src-main/store/vault-document.js';

const BUCKETS = 24;
const PALETTE = ['var(--c1)', 'var(--c2)', 'var(--c3)', 'var(--c4)', 'var(--c5)'];

export interface ChartSeries {
  app: string;
  counts: number[];
}

/** Counts `token_issued` entries per app in BUCKETS equal slices of [from, to]. */
export function tokenRequestSeries(entries: AuditEntry[], from: number, to: number): ChartSeries[] {
  const width = Math.max(1, (to - from) / BUCKETS);
  const byApp = new Map<string, number[]>();
  for (const e of entries) {
    if (e.event !== 'token_issued' || e.at < from || e.at > to) continue;
    const counts = byApp.get(e.appName ?? e.appId) ?? new Array<number>(BUCKETS).fill(0);
    counts[Math.min(BUCKETS - 1, Math.floor((e.at - from) / width))]! += 1;
    byApp.set(e.appName ?? e.appId, counts);
  }
  return [...byApp].map(([app, counts]) => ({ app, counts }));
}

export function ActivityChart({ series, from, to }: { series: ChartSeries[]; from: number; to: number }) {
  const max = Math.max(1, ...series.flatMap((s) => s.counts));
  const barW = 12;
  const gap = 4;
  const rowH = 44;
  const labelW = 140;
  const width = labelW + BUCKETS * (barW + gap);
  const height = Math.max(1, series.length) * rowH + 20;
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby="chart-title" width="100%" preserveAspectRatio="xMinYMin meet">
        <title id="chart-title">Token requests per app, {new Date(from).toLocaleString()} to {new Date(to).toLocaleString()}</title>
        {series.map((s, row) => (
          <g key={s.app} transform={`translate(0 ${row * rowH})`}>
            <text x={0} y={rowH / 2 + 4} className="chart-label">
              {s.app.length > 18 ? `${s.app.slice(0, 17)}…` : s.app}
            </text>
            {s.counts.map((c, i) => {
              const h = (c / max) * (rowH - 8);
              return <rect key={i} x={labelW + i * (barW + gap)} y={rowH - 4 - h} width={barW} height={Math.max(h, c ? 2 : 0)} rx={2} fill={PALETTE[row % PALETTE.length]} />;
            })}
            <line x1={labelW} x2={width} y1={rowH - 4} y2={rowH - 4} className="chart-axis" />
          </g>
        ))}
        <text x={labelW} y={height - 4} className="chart-label">
          {new Date(from).toLocaleTimeString(undefined, { timeStyle: 'short' })}
        </text>
        <text x={width} y={height - 4} textAnchor="end" className="chart-label">
          now
        </text>
      </svg>
      <figcaption className="visually-hidden">
        <table>
          <tbody>
            {series.map((s) => (
              <tr key={s.app}>
                <th scope="row">{s.app}</th>
                <td>{s.counts.reduce((a, b) => a + b, 0)} token requests</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figcaption>
    </figure>
  );
}
