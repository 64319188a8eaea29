import os from 'node:os';
import { measureEndToEnd } from './bench/end-to-end';
import { measureHistory } from './bench/history';
import { PARTS } from './bench/knobs';
import { measureNorthbound, type Northbound } from './bench/northbound';
import { measureReconciliation } from './bench/reconciliation';
import { writeReport } from './bench/report';
import { startBenchStack } from './bench/stack';

/**
 * `npm run bench`: its own Temporal dev server, embedded Postgres, sandboxes answering at once, one
 * worker process (worker/main.ts, as in production, so its memory is its own) and one API process
 * (api/main.ts, so its CPU per request can be read from /proc); prints a table and writes
 * bench/results.json. Knobs: BENCH_N (2000), BENCH_LEVELS
 * ("20,100"), BENCH_RECON_ROWS (100000), BENCH_RECON_RATE ("500"; a list, "max" = unlimited), BENCH_API_SECONDS (8),
 * BENCH_API_CONCURRENCY (50), BENCH_PARTS ("e2e,api,recon": which measures to run),
 * BENCH_PROFILE_DIR (CPU profiles of the worker and API processes), BENCH_OPEN_LOAD (0.5: the
 * open-loop pass's rate as a share of the first level's cancellations/s; 0 skips it).
 */

async function main(): Promise<void> {
  const stack = await startBenchStack();
  const results: Record<string, unknown> = {
    machine: {
      cpus: os.cpus().length,
      cpu: os.cpus()[0]?.model,
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    at: new Date().toISOString(),
  };

  // 1 + 2. End to end vs the platform ceiling, at each concurrency level.
  const { runs, answers, ceilingAnswers, sample, cpu, open } = await measureEndToEnd(stack);
  results.endToEnd = runs;
  results.merchantAnswer = answers;
  results.ceilingAnswer = ceilingAnswers;

  // 5. History events of one happy-path cancellation (and its notification child).
  if (sample) results.history = await measureHistory(stack.client, sample);

  // 4. Northbound query endpoint vs a trivial route on the same server.
  let northbound: Northbound | undefined;
  if (PARTS.has('api')) {
    northbound = await measureNorthbound(stack, sample);
    results.northbound = northbound;
  }

  // 3. Reconciliation of RECON_ROWS rows against PayBy limited to each rate in turn.
  const reconciliation = await measureReconciliation(stack);
  if (reconciliation.length > 0) results.reconciliation = reconciliation;

  // Output.
  writeReport(results, runs, answers, northbound, reconciliation, { cpu, open, ceilingAnswers });

  await stack.stop();
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
