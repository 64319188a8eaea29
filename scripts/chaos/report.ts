import type { FaultEvent } from './faults';
import type { Verdict } from './invariants';
import type { RequestRecord } from './load';

/**
 * What the run prints and writes: the invariants table (every count; the verdict), the info rows,
 * the secrets scan, per-fault recovery and throughput, and throughput in 30-second windows.
 */

export interface Series {
  /** Cancellations reaching a terminal state, by account. */
  finished: Array<{ at: number; account: string }>;
  /** First successful delivery per notification. */
  delivered: number[];
  records: RequestRecord[];
}

const rate = (times: number[], from: number, to: number) =>
  to > from ? times.filter((t) => t >= from && t < to).length / ((to - from) / 1000) : 0;

function pct(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]! : 0;
}

/** Which completions a fault is judged by. */
function seriesFor(kind: FaultEvent['kind'], s: Series): number[] {
  if (kind === 'refuse-receiver') return s.delivered;
  if (kind === 'stall-payby') return s.finished.filter((f) => f.account.startsWith('payby')).map((f) => f.at);
  if (kind === 'stall-unified')
    return s.finished.filter((f) => f.account.startsWith('unified')).map((f) => f.at);
  return s.finished.map((f) => f.at);
}

export function faultTable(events: FaultEvent[], s: Series, loadStart: number): string[] {
  const lines = [
    'fault                     target                                   back  recov  before  during   after  answers during: n, 9999, p50/max ms',
  ];
  for (const e of events) {
    const times = seriesFor(e.kind, s);
    const restored = e.restoredAt ?? e.injectedAt;
    const before = rate(times, e.injectedAt - 30_000, e.injectedAt);
    const during = rate(times, e.injectedAt, Math.max(restored, e.injectedAt + 1_000));
    const after = rate(times, restored, restored + 30_000);
    let recovery = 'n/a';
    if (before > 0)
      for (let t = restored; t < restored + 900_000; t += 1_000)
        if (rate(times, t, t + 10_000) >= 0.5 * before) {
          recovery = `${((t + 10_000 - e.injectedAt) / 1000).toFixed(0)}s`;
          break;
        }
    const sent = s.records.filter((r) => r.sentAt >= e.injectedAt && r.sentAt < restored);
    const ms = sent
      .filter((r) => r.acceptedAt)
      .map((r) => r.acceptedAt! - r.sentAt)
      .sort((a, b) => a - b);
    const unavailable = sent.flatMap((r) => r.attempts).filter((a) => a.code === 9999).length;
    lines.push(
      [
        `t+${Math.round((e.injectedAt - loadStart) / 1000)}s ${e.kind}`.padEnd(25),
        e.target.slice(0, 40).padEnd(40),
        `${((restored - e.injectedAt) / 1000).toFixed(1)}s`.padStart(6),
        recovery.padStart(6),
        before.toFixed(1).padStart(7),
        during.toFixed(1).padStart(7),
        after.toFixed(1).padStart(7),
        `  ${sent.length}, ${unavailable}, ${pct(ms, 0.5)}/${ms[ms.length - 1] ?? 0}`,
        e.error ? ` FAILED: ${e.error}` : '',
      ].join(' '),
    );
  }
  lines.push(
    '  back: until the component was up again (process ready / server accepting / stall or refusal over).',
    '  recov: from the fault until a 10 s window of completions (cancellations finished; deliveries for the',
    '  receiver; that provider’s cancellations for a stall) reaches half the rate of the 30 s before the fault.',
    '  before/during/after: completions per second in the 30 s before, while it lasted, the 30 s after.',
  );
  return lines;
}

export function throughputTable(s: Series, loadStart: number, loadEnd: number, end: number): string[] {
  const finished = s.finished.map((f) => f.at);
  const accepted = s.records.filter((r) => r.acceptedAt).map((r) => r.acceptedAt!);
  const sent = s.records.map((r) => r.sentAt);
  const lines = ['window (s after load start)   sent/s  accepted/s  finished/s  delivered/s'];
  const lastEvent = [finished, s.delivered, accepted].flat().reduce((a, b) => Math.max(a, b), loadEnd);
  for (let t = loadStart; t < Math.min(end, lastEvent + 1); t += 30_000) {
    lines.push(
      [
        `${Math.round((t - loadStart) / 1000)}..${Math.round((t + 30_000 - loadStart) / 1000)}`.padEnd(28),
        rate(sent, t, t + 30_000)
          .toFixed(1)
          .padStart(7),
        rate(accepted, t, t + 30_000)
          .toFixed(1)
          .padStart(11),
        rate(finished, t, t + 30_000)
          .toFixed(1)
          .padStart(11),
        rate(s.delivered, t, t + 30_000)
          .toFixed(1)
          .padStart(12),
      ].join(' '),
    );
  }
  const lat = s.records
    .filter((r) => r.acceptedAt)
    .map((r) => r.acceptedAt! - r.sentAt)
    .sort((a, b) => a - b);
  lines.push(
    `sending phase ${((loadEnd - loadStart) / 1000).toFixed(0)} s: sent ${rate(sent, loadStart, loadEnd).toFixed(2)}/s, ` +
      `accepted ${rate(accepted, loadStart, loadEnd).toFixed(2)}/s, finished ${rate(finished, loadStart, loadEnd).toFixed(2)}/s; ` +
      `after it, until the last completion (${((lastEvent - loadEnd) / 1000).toFixed(0)} s): accepted ` +
      `${rate(accepted, loadEnd, lastEvent + 1).toFixed(2)}/s, finished ${rate(finished, loadEnd, lastEvent + 1).toFixed(2)}/s, ` +
      `delivered ${rate(s.delivered, loadEnd, lastEvent + 1).toFixed(2)}/s`,
    `merchant answer time (first send → code 0, re-sends included): p50 ${pct(lat, 0.5)} ms, p90 ${pct(lat, 0.9)} ms, ` +
      `p99 ${pct(lat, 0.99)} ms, max ${lat[lat.length - 1] ?? 0} ms`,
  );
  return lines;
}

export function invariantTable(v: Verdict, secretsFound: number): string[] {
  const lines = ['INVARIANTS (each must be 0)', `${'group'.padEnd(14)} ${'check'.padEnd(68)} count`];
  for (const c of v.checks) {
    lines.push(`${c.group.padEnd(14)} ${c.name.padEnd(68)} ${String(c.count).padStart(5)}`);
    for (const e of c.examples) lines.push(`${''.padEnd(16)}e.g. ${e}`);
  }
  lines.push(
    `${'secrets'.padEnd(14)} ${'configured secrets found in histories / db file / Postgres / logs'.padEnd(68)} ${String(secretsFound).padStart(5)}`,
  );
  lines.push('', 'MEASURED (not violations)');
  for (const i of v.info) lines.push(`  ${i.name}: ${i.value}`);
  return lines;
}
