/** 3. Reconciliation of BENCH_RECON_ROWS rows against PayBy limited to each rate; the worker's memory. */
import type { ReconciliationResult } from '../../contract/reconciliation';
import { PARTS, RECON_RATES, RECON_ROWS, reconAccount, say } from './knobs';
import { cancellationRow } from './rows';
import type { BenchStack } from './stack';

export type ReconRun = {
  rows: number;
  seconds: number;
  achievedPerSecond: number;
  limitPerSecond: number | 'max';
  ratio: number | null;
  providerAnswered: number;
  providerRefused: number;
  workerRssStartMiB: number;
  workerRssPeakMiB: number;
  workerRssEndMiB: number;
  workerRssPeakByFifthMiB: number[];
  counts: Record<string, number>;
};

/** 3. Reconciliation of RECON_ROWS rows against PayBy limited to each rate in turn. */
export async function measureReconciliation(stack: BenchStack): Promise<ReconRun[]> {
  const { db, sandboxes, worker, client, config } = stack;
  const reconciliation: ReconRun[] = [];
  for (const [pass, rate] of (PARTS.has('recon') ? RECON_RATES : []).entries()) {
    const account = reconAccount(rate);
    const label = Number.isFinite(rate) ? `${rate} req/s` : 'no limit';
    say(`reconciliation (${label}): seeding ${RECON_ROWS} rows ...`);
    const at = new Date(Date.now() - (30 + pass) * 24 * 3_600_000);
    for (let from = 0; from < RECON_ROWS; from += 5_000) {
      const rows = [];
      for (let i = from; i < Math.min(RECON_ROWS, from + 5_000); i++) {
        const order = `R${pass}-${i}`;
        sandboxes.payby.setOrder(order, { status: 'FAILURE' });
        rows.push({
          ...cancellationRow(
            `C20200101${pass}${String(i).padStart(12, '0')}`,
            account,
            order,
            'SUCCEEDED',
            2,
          ),
          created_at: at,
          updated_at: at,
        });
      }
      await db.batchInsert('cancellations', rows, 1_000);
    }
    say(`reconciliation (${label}): ${RECON_ROWS} rows, PayBy and the account both limited to it ...`);
    sandboxes.payby.setRateLimit(Number.isFinite(rate) ? rate : undefined);
    const before = { ...sandboxes.payby.stats };
    const rss: number[] = [];
    const rssStart = worker.rss();
    const sampler = setInterval(() => rss.push(worker.rss()), 250);
    const t = performance.now();
    const recon = (await client.workflow.execute('reconciliationWorkflow', {
      workflowId: `bench-reconcile-${account}-${Date.now()}`,
      taskQueue: config.temporal.taskQueue,
      args: [
        {
          from: at.getTime() - 1,
          to: at.getTime() + 1,
          accountId: account,
          pageSize: 1_000,
          concurrency: 200,
          dryRun: true,
        },
      ],
    })) as ReconciliationResult;
    const seconds = (performance.now() - t) / 1000;
    clearInterval(sampler);
    sandboxes.payby.setRateLimit(undefined);
    const mib = (b: number) => Math.round(b / 2 ** 20);
    // Peak RSS in each fifth of the run: flat memory shows as equal fifths.
    const fifths = Array.from({ length: 5 }, (_, k) =>
      mib(Math.max(...rss.slice(Math.floor((k * rss.length) / 5), Math.floor(((k + 1) * rss.length) / 5)))),
    );
    reconciliation.push({
      rows: recon.total,
      seconds: Number(seconds.toFixed(1)),
      achievedPerSecond: Number((recon.total / seconds).toFixed(1)),
      limitPerSecond: Number.isFinite(rate) ? rate : 'max',
      ratio: Number.isFinite(rate) ? Number((recon.total / seconds / rate).toFixed(2)) : null,
      providerAnswered: sandboxes.payby.stats.answered - before.answered,
      providerRefused: sandboxes.payby.stats.rateLimited - before.rateLimited,
      workerRssStartMiB: mib(rssStart),
      workerRssPeakMiB: mib(Math.max(...rss, rssStart)),
      workerRssEndMiB: mib(worker.rss()),
      workerRssPeakByFifthMiB: fifths,
      counts: recon.counts,
    });
  }
  return reconciliation;
}
