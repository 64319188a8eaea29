import type { Command } from 'commander';
import { CancelflowError } from '../../common/errors';
import type { reconciliationWorkflow } from '../../workflows/reconciliation';
import { progressQuery } from '../../workflows/definitions';
import type { ReconciliationResult } from '../../contract/reconciliation';
import { ValidationError } from '../index';
import { REPORT_COLUMNS, reconciliationReport, reconciliationRuns } from '../records';
import {
  cellText,
  cliConfig,
  isoDate,
  knownAccount,
  positiveInteger,
  print,
  table,
  withDatabase,
  withTemporal,
} from './context';

function progressBar(done: number, total: number, width = 30): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** The classes and their counts; a dry run repaired nothing, it only says what it would repair. */
function summary(result: Pick<ReconciliationResult, 'runId' | 'dryRun' | 'counts'>): string {
  const t = table({ head: ['class', 'count'] });
  for (const [cls, n] of Object.entries(result.counts))
    t.push([cls === 'REPAIRED' && result.dryRun ? 'REPAIRED (would repair)' : cls, n]);
  const repaired = result.counts.REPAIRED ?? 0;
  return [
    `run ${result.runId}${result.dryRun ? ' (dry run)' : ''}`,
    t.toString(),
    result.dryRun ? `${repaired} would repair (dry run: nothing was changed)` : `${repaired} repaired`,
  ].join('\n');
}

/** `MATCHED 3, REPAIRED 1`: the classes that occurred. */
const countsText = (counts: Record<string, number>) =>
  Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([cls, n]) => `${cls} ${n}`)
    .join(', ') || 'nothing checked';

export function registerReconcileCommands(program: Command): void {
  const reconcile = program
    .command('reconcile')
    .description('run the reconciliation now (the same workflow as the nightly schedule)')
    .option('--from <iso>', 'window start (default: 24 h ago)')
    .option('--to <iso>', 'window end (default: now)')
    .option('--account <id>', 'only this provider account (one of the config file)')
    .option('--dry-run', 'classify, repair nothing')
    .option('--json', 'machine-readable output')
    .action(async (o: { from?: string; to?: string; account?: string; dryRun?: boolean; json?: boolean }) => {
      const from = isoDate(o.from, '--from')?.getTime();
      const to = isoDate(o.to, '--to')?.getTime();
      if (from !== undefined && to !== undefined && from >= to)
        throw new ValidationError('--from', 'must be before --to');
      const config = cliConfig();
      const account = knownAccount(config, o.account);
      await withTemporal(config, async ({ client }) => {
        const handle = await client.workflow.start<typeof reconciliationWorkflow>('reconciliationWorkflow', {
          workflowId: `reconcile/manual/${new Date().toISOString()}`,
          taskQueue: config.temporal.taskQueue,
          args: [
            {
              ...(from !== undefined ? { from } : {}),
              ...(to !== undefined ? { to } : {}),
              ...(account ? { accountId: account } : {}),
              dryRun: Boolean(o.dryRun),
              staleAfterHours: config.reconciliation.staleAfterHours,
            },
          ],
        });
        const done = handle.result();
        let finished = false;
        void done.finally(() => (finished = true)).catch(() => undefined);
        while (!finished && !o.json) {
          const p = await handle.query(progressQuery).catch(() => undefined);
          if (p) process.stderr.write(`\r${progressBar(p.processed, p.total)} ${p.processed}/${p.total}   `);
          await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
        }
        const result = await done;
        if (!o.json)
          process.stderr.write(
            `\r${progressBar(result.total, result.total)} ${result.total}/${result.total}\n`,
          );
        print(Boolean(o.json), result, () => summary(result));
      });
    });

  reconcile
    .command('report')
    .description("export a run's items")
    .argument('<runId>')
    .option('--csv', 'CSV, one line per cancellation')
    .option('--json', 'JSON')
    .action(async (runId: string, _o: unknown, cmd: Command) => {
      // `--json` is also an option of `reconcile` itself: read both levels.
      const o = cmd.optsWithGlobals<{ csv?: boolean; json?: boolean }>();
      await withDatabase(cliConfig(), async (db) => {
        const report = await reconciliationReport(db, runId);
        if (!report) throw new CancelflowError('NOT_FOUND', `no reconciliation run ${runId}`);
        const { run, items } = report;
        if (o.csv) {
          const cell = (v: string | number | boolean | object | null | undefined) => {
            const text = cellText(v);
            return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
          };
          process.stdout.write(`${REPORT_COLUMNS.join(',')}\n`);
          for (const item of items)
            process.stdout.write(`${REPORT_COLUMNS.map((c) => cell(item[c])).join(',')}\n`);
          return;
        }
        print(Boolean(o.json), { run, items }, () => {
          const t = table({ head: ['cancelOrderId', 'class', 'ours', 'provider', 'repaired'] });
          for (const i of items.filter((x) => x.class !== 'MATCHED'))
            t.push([
              cellText(i.cancel_order_id),
              cellText(i.class),
              cellText(i.our_state),
              cellText(i.provider_state),
              i.repaired ? 'yes' : '',
            ]);
          return `run ${runId}${run.dry_run ? ' (dry run)' : ''}: ${countsText(run.counts)}\n${t.toString()}\n(MATCHED rows omitted; --csv or --json for all ${items.length})`;
        });
      });
    });

  reconcile
    .command('runs')
    .description('past reconciliation runs with their counts, newest first')
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'JSON')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<{ limit: string; json?: boolean }>();
      const limit = positiveInteger(o.limit, '--limit');
      await withDatabase(cliConfig(), async (db) => {
        const runs = await reconciliationRuns(db, limit);
        print(Boolean(o.json), runs, () => {
          const t = table({ head: ['run', 'started', 'finished', 'window', 'account', 'status', 'counts'] });
          for (const r of runs)
            t.push([
              `${r.run_id}${r.dry_run ? ' (dry run)' : ''}`,
              cellText(r.started_at),
              cellText(r.finished_at),
              `${cellText(r.window_from)} – ${cellText(r.window_to)}`,
              r.account_id ?? 'all',
              r.status,
              countsText(r.counts),
            ]);
          return `${t.toString()}\n${runs.length} run(s)`;
        });
      });
    });
}
