/** The bench's output: the measures and ratios tables on stdout, and bench/results.json. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Table from 'cli-table3';
import { REPO_ROOT } from '../stack';
import type { CpuSplit } from './cpu';
import type { Answer, MerchantAnswer, OpenLoopRun } from './end-to-end';
import { LEVELS, PARTS, say } from './knobs';
import type { Northbound } from './northbound';
import type { ReconRun } from './reconciliation';
import type { Run } from './stats';

/** Prints the tables and writes bench/results.json: `results` plus the keys of record. */
export function writeReport(
  results: Record<string, unknown>,
  runs: Run[],
  answers: MerchantAnswer[],
  northbound: Northbound | undefined,
  reconciliation: ReconRun[],
  {
    cpu = [],
    open = [],
    ceilingAnswers = [],
  }: { cpu?: CpuSplit[]; open?: OpenLoopRun[]; ceilingAnswers?: Answer[] } = {},
): void {
  const table = new Table({
    head: ['measure', 'concurrency', 'count', 'seconds', 'per second', 'p50 ms', 'p95 ms', 'p99 ms'],
  });
  for (const r of [
    ...runs,
    ...(northbound ? [northbound.query, northbound.queryPending, northbound.trivial] : []),
  ])
    table.push([r.label, r.concurrency, r.count, r.seconds, r.perSecond, r.p50, r.p95, r.p99]);
  process.stdout.write(`${table.toString()}\n`);
  const ratios = new Table({ head: ['ratio', 'value', 'target'] });
  // Issue 17's ratios, against the platform's own units measured in the same run (results.ratios).
  const ratioOf: Record<string, number> = {};
  for (const level of PARTS.has('e2e') ? LEVELS : []) {
    const a = runs.find((r) => r.label === 'cancelflow' && r.concurrency === level)!;
    const b = runs.find((r) => r.label === 'ceiling' && r.concurrency === level)!;
    ratios.push([`cancelflow ÷ ceiling @${level}`, (a.perSecond / b.perSecond).toFixed(2), '-']);
    for (const unit of ['1 activity', '1 local activity']) {
      const u = runs.find((r) => r.label === unit && r.concurrency === level)!;
      const ratio = Number((a.perSecond / u.perSecond).toFixed(2));
      ratioOf[`throughput ÷ ${unit} @${level}`] = ratio;
      ratios.push([
        `cancelflow ÷ ${unit} @${level}`,
        ratio.toFixed(2),
        unit === '1 activity' ? '≥ 0.6' : '-',
      ]);
    }
    const m = answers.find((r) => r.concurrency === level)!;
    const unit = runs.find((r) => r.label === '1 activity' && r.concurrency === level)!;
    const c = ceilingAnswers.find((r) => r.concurrency === level);
    if (c)
      ratios.push([
        `ceiling answer p50 ÷ 1 activity p50 @${level} (${c.p50} / ${unit.p50} ms): the shape's own share`,
        (c.p50 / unit.p50).toFixed(2),
        '-',
      ]);
    const answerRatio = Number((m.p50 / unit.p50).toFixed(2));
    ratioOf[`merchant answer p50 ÷ 1 activity p50 @${level}`] = answerRatio;
    ratios.push([
      `merchant answer p50 ÷ 1 activity p50 @${level} (${m.p50} / ${unit.p50} ms; p99 ${m.p99}; ${m.resends} re-sent)`,
      answerRatio.toFixed(2),
      level === LEVELS[0] ? '≤ 2' : '-',
    ]);
  }
  for (const r of reconciliation) {
    ratios.push([
      r.ratio === null
        ? `reconciliation with no limit: ${r.achievedPerSecond} per s (this machine's ceiling)`
        : `reconciliation ÷ limit (${r.achievedPerSecond}/${r.limitPerSecond} per s; provider refused ${r.providerRefused})`,
      r.ratio === null ? '-' : r.ratio.toFixed(2),
      r.ratio === null ? '-' : '≥ 0.95',
    ]);
    ratios.push([
      `worker RSS start / peak / end MiB (peak per fifth), ${r.rows} rows`,
      `${r.workerRssStartMiB} / ${r.workerRssPeakMiB} / ${r.workerRssEndMiB} (${r.workerRssPeakByFifthMiB.join(', ')})`,
      'flat',
    ]);
  }
  if (northbound) {
    ratioOf['terminal query ÷ /health'] = northbound.ratio;
    ratioOf['pending query ÷ /health'] = northbound.ratioPending;
    ratios.push(['query of a terminal cancellation ÷ trivial route', String(northbound.ratio), '≥ 0.8']);
    ratios.push([
      'query of a pending cancellation ÷ trivial route',
      String(northbound.ratioPending),
      '≥ 0.7',
    ]);
    const cpu = northbound.apiCpuMicros;
    ratioOf['terminal query ÷ /health, API CPU per request'] = northbound.costRatio;
    ratioOf['pending query ÷ /health, API CPU per request'] = northbound.costRatioPending;
    ratios.push(
      [
        `API CPU µs per request: terminal query / pending query / /health`,
        `${cpu.query} / ${cpu.queryPending} / ${cpu.trivial}`,
        '-',
      ],
      [
        '/health ÷ terminal query, API CPU per request (generator-independent)',
        String(northbound.costRatio),
        '-',
      ],
      [
        '/health ÷ pending query, API CPU per request (generator-independent)',
        String(northbound.costRatioPending),
        '-',
      ],
    );
  }
  const h = results.history as
    | { cancellation: number; notification: number; unitActivity: number; unitLocalActivity: number }
    | undefined;
  if (h)
    ratios.push(
      [
        'history events per happy-path cancellation (+ notification child)',
        `${h.cancellation} (+ ${h.notification})`,
        '≤ 25 incl. the first attempt',
      ],
      [
        'history events of the units (1 activity / 1 local activity)',
        `${h.unitActivity} / ${h.unitLocalActivity}`,
        '-',
      ],
    );
  process.stdout.write(`${ratios.toString()}\n`);
  if (open.length > 0) {
    // Below capacity (open loop): what one request waits at that load, not Little's law.
    const table = new Table({
      head: ['open loop', 'sent per second', 'count', 'p50 ms', 'p95 ms', 'p99 ms'],
    });
    for (const r of open)
      table.push([
        r.resends ? `${r.label} (${r.resends} re-sent)` : r.label,
        r.perSecond,
        r.count,
        r.p50,
        r.p95,
        r.p99,
      ]);
    process.stdout.write(`${table.toString()}\n`);
    const answer = open.find((r) => r.label === 'merchant answer');
    const unit = open.find((r) => r.label === '1 activity');
    if (answer && unit) {
      const ratio = Number((answer.p50 / unit.p50).toFixed(2));
      ratioOf[`merchant answer p50 ÷ 1 activity p50, open loop at ${answer.perSecond}/s`] = ratio;
      process.stdout.write(`open loop: merchant answer p50 ÷ 1 activity p50 at the same rate = ${ratio}\n`);
    }
    results.openLoop = open;
  }
  if (cpu.length > 0) {
    // CPU ms per item by process (scripts/bench/cpu.ts): what each pass's rate is made of.
    const groups = [...new Set(cpu.flatMap((c) => Object.keys(c.perItemMs)))].sort();
    const split = new Table({
      head: ['CPU ms per item', 'in flight', ...groups, 'all', 'outside', 'box busy'],
    });
    for (const c of cpu)
      split.push([
        c.label,
        c.concurrency,
        ...groups.map((g) => c.perItemMs[g] ?? 0),
        c.totalMs,
        c.outsideMs,
        `${Math.round(c.boxBusyShare * 100)} %`,
      ]);
    process.stdout.write(`${split.toString()}\n`);
    results.cpu = cpu;
  }
  // The keys of record (issue 17): the units, the cancellation path, the ratios between them.
  results.units = runs.filter((r) => r.label === '1 activity' || r.label === '1 local activity');
  results.cancellation = {
    endToEnd: runs.filter((r) => r.label === 'cancelflow'),
    merchantAnswer: answers,
  };
  results.ratios = ratioOf;
  mkdirSync(path.join(REPO_ROOT, 'bench'), { recursive: true });
  writeFileSync(path.join(REPO_ROOT, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  say('wrote bench/results.json');
}
