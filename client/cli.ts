import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Client } from '@temporalio/client';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { loadConfig } from '../common/config';
import { CancelflowError } from '../common/errors';
import { connectClient } from '../common/temporal-connection';
import { createDb } from '../common/db';
import { openDatabaseForCommand } from '../scripts/stack';
import type { ReconciliationProgress, reconciliationWorkflow } from '../workflows/reconciliation';
import { createCancelflowClient, ValidationError, type CancellationStatus } from './index';

function cellText(v: string | number | boolean | object | null | undefined): string {
  return v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function progressBar(done: number, total: number, width = 30): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/**
 * `cancelflow`: what ops do daily. Tables for people, `--json` for scripts. Exit codes: 0 ok,
 * 1 failure, 2 bad input (the message names the field), 3 not found, 4 conflict (try later).
 */

const REPO_ROOT = path.resolve(__dirname, '..');
const EXIT = { ok: 0, failure: 1, input: 2, notFound: 3, conflict: 4 } as const;

async function withClient<T>(
  fn: (cancelflow: ReturnType<typeof createCancelflowClient>) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ allowMissingFile: true });
  const connection = await connectClient(config);
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace });
    return await fn(
      createCancelflowClient({ client, config, ...(config.timings ? { timings: config.timings } : {}) }),
    );
  } finally {
    await connection.close();
  }
}

function print(json: boolean, value: unknown, table: () => string): void {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : table()}\n`);
}

function runScript(script: string, args: string[]): never {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', script), ...args],
    {
      stdio: 'inherit',
    },
  );
  process.exit(result.status ?? EXIT.failure);
}

const program = new Command('cancelflow')
  .description('Cancel payment orders as durable Temporal workflows, and operate them')
  .showHelpAfterError()
  .addHelpText('after', '\nExit codes: 0 ok, 1 failure, 2 bad input, 3 not found, 4 conflict.');

program
  .command('start')
  .description('start (or find) the cancellation of one order')
  .requiredOption('--mch-no <mchNo>', 'merchant number')
  .requiredOption('--app-id <appId>', 'app id')
  .option('--pay-order-id <id>', 'payment order id')
  .option('--mch-order-no <no>', 'merchant order number')
  .option('--notify-url <url>', 'where to send the Cancel Notification')
  .option('--ext-param <text>', 'returned as extraParam in the notification')
  .option('--wait', 'wait for the final state')
  .option('--json', 'machine-readable output')
  .action(async (o: Record<string, string | boolean | undefined>) => {
    await withClient(async (cancelflow) => {
      const started = await cancelflow.startCancellation({
        mchNo: o.mchNo as string,
        appId: o.appId as string,
        ...(o.payOrderId ? { payOrderId: o.payOrderId as string } : {}),
        ...(o.mchOrderNo ? { mchOrderNo: o.mchOrderNo as string } : {}),
        ...(o.notifyUrl ? { notifyUrl: o.notifyUrl as string } : {}),
        ...(o.extParam ? { extParam: o.extParam as string } : {}),
      });
      const result = o.wait ? await cancelflow.waitForResult(started.cancelOrderId) : undefined;
      print(Boolean(o.json), { ...started, ...(result ? { result } : {}) }, () =>
        [
          `${started.created ? 'started' : 'already exists'}: ${started.cancelOrderId} (${started.workflowId})`,
          ...(result
            ? [`final: ${result.status} (state ${result.state})${result.errCode ? ` ${result.errCode}` : ''}`]
            : []),
        ].join('\n'),
      );
    });
  });

program
  .command('status')
  .description('the current snapshot of a cancellation')
  .argument('<id>', 'cancelOrderId or workflow id')
  .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
  .option('--app-id <appId>', 'only if it belongs to this app')
  .option('--json', 'machine-readable output')
  .action(async (id: string, o: { json?: boolean; mchNo?: string; appId?: string }) => {
    if (Boolean(o.mchNo) !== Boolean(o.appId))
      throw new ValidationError(
        o.mchNo ? '--app-id' : '--mch-no',
        'give both --mch-no and --app-id, or neither',
      );
    await withClient(async (cancelflow) => {
      const s = await cancelflow.getCancellation(
        id,
        o.mchNo && o.appId ? { mchNo: o.mchNo, appId: o.appId } : undefined,
      );
      print(Boolean(o.json), s, () => {
        const table = new Table();
        const rows: Array<[string, string | number | undefined]> = [
          ['cancelOrderId', s.cancelOrderId],
          ['workflow', s.workflowId],
          ['status', `${s.status} (state ${s.state})${s.retryable ? ', may be retried' : ''}`],
          ['app', `${s.mchNo}/${s.appId}`],
          ['account', `${s.accountId} (${s.provider})`],
          ['order', s.order.payOrderId ?? s.order.mchOrderNo],
          ['provider cancel id', s.providerCancelId ?? ''],
          ['error', s.errCode ? `${s.errCode} ${s.errMsg ?? ''}` : ''],
          ['reason', s.reason ?? ''],
          ['amount', s.amount ? `${s.amount.minor} minor units ${s.amount.currency}` : ''],
          ['calls', `${s.submits} cancel, ${s.queries} query`],
          ['notification', s.notificationWorkflowId ?? ''],
        ];
        for (const [k, v] of rows) table.push({ [k]: v === undefined ? '' : String(v) });
        return table.toString();
      });
    });
  });

program
  .command('retry')
  .description(
    'start a cancellation again: one that FAILED for our own reasons (configuration); with --force also a provider refusal or an UNRESOLVED one',
  )
  .argument('<cancelOrderId>', 'the cancellation to retry')
  .option('--force', 'also retry a business refusal or an UNRESOLVED cancellation')
  .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
  .option('--app-id <appId>', 'only if it belongs to this app')
  .option('--json', 'machine-readable output')
  .action(async (id: string, o: { force?: boolean; mchNo?: string; appId?: string; json?: boolean }) => {
    if (Boolean(o.mchNo) !== Boolean(o.appId))
      throw new ValidationError(
        o.mchNo ? '--app-id' : '--mch-no',
        'give both --mch-no and --app-id, or neither',
      );
    await withClient(async (cancelflow) => {
      const started = await cancelflow.retryCancellation(id, {
        force: o.force === true,
        ...(o.mchNo && o.appId ? { scope: { mchNo: o.mchNo, appId: o.appId } } : {}),
      });
      const retried = started.cancelOrderId !== id;
      print(Boolean(o.json), { retried, ...started }, () =>
        retried
          ? `retried: ${id} → ${started.cancelOrderId} (${started.answer.status}, state ${started.answer.state})`
          : `not retried: ${id} is ${started.answer.status} ${started.answer.errCode ?? ''}; a provider refusal needs --force`,
      );
      if (!retried) process.exitCode = EXIT.conflict;
    });
  });

program
  .command('list')
  .description('cancellations, newest first (from Temporal visibility)')
  .addOption(
    new Option('--status <status>', 'only this status').choices([
      'RECEIVED',
      'SUBMITTED',
      'PENDING',
      'SUCCEEDED',
      'FAILED',
      'CLOSED',
      'UNRESOLVED',
    ]),
  )
  .option('--account <id>', 'only this provider account')
  .option('--mch-no <mchNo>', 'only this merchant')
  .option('--since <iso>', 'started at or after')
  .option('--limit <n>', 'at most this many', '50')
  .option('--json', 'machine-readable output')
  .action(
    async (o: {
      status?: CancellationStatus;
      account?: string;
      mchNo?: string;
      since?: string;
      limit: string;
      json?: boolean;
    }) => {
      const since = o.since ? new Date(o.since) : undefined;
      if (since && Number.isNaN(since.getTime())) throw new ValidationError('--since', 'must be an ISO date');
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new ValidationError('--limit', 'must be a positive integer');
      await withClient(async (cancelflow) => {
        const list = await cancelflow.listCancellations({
          ...(o.status ? { status: o.status } : {}),
          ...(o.account ? { account: o.account } : {}),
          ...(o.mchNo ? { mchNo: o.mchNo } : {}),
          ...(since ? { since } : {}),
          limit,
        });
        print(Boolean(o.json), list, () => {
          const table = new Table({
            head: ['cancelOrderId', 'status', 'account', 'merchant', 'order', 'started'],
          });
          for (const c of list)
            table.push([
              c.cancelOrderId,
              c.status,
              c.account,
              c.mchNo,
              c.orderRef,
              c.startTime.toISOString(),
            ]);
          return `${table.toString()}\n${list.length} cancellation(s)`;
        });
      });
    },
  );

program
  .command('redeliver')
  .description('a fresh round of notification attempts (same id, same signed payload)')
  .argument('<cancelOrderId>')
  .option('--json', 'machine-readable output')
  .action(async (cancelOrderId: string, o: { json?: boolean }) => {
    await withClient(async (cancelflow) => {
      const r = await cancelflow.redeliverNotification(cancelOrderId);
      print(Boolean(o.json), r, () => `redelivery started: ${r.workflowId}`);
    });
  });

const reconcile = program
  .command('reconcile')
  .description('run the reconciliation now (the same workflow as the nightly schedule)')
  .option('--from <iso>', 'window start (default: 24 h ago)')
  .option('--to <iso>', 'window end (default: now)')
  .option('--account <id>', 'only this provider account')
  .option('--dry-run', 'classify, repair nothing')
  .option('--json', 'machine-readable output')
  .action(async (o: { from?: string; to?: string; account?: string; dryRun?: boolean; json?: boolean }) => {
    const date = (v: string | undefined, field: string) => {
      if (v === undefined) return undefined;
      const t = new Date(v).getTime();
      if (Number.isNaN(t)) throw new ValidationError(field, 'must be an ISO date');
      return t;
    };
    const from = date(o.from, '--from');
    const to = date(o.to, '--to');
    if (from !== undefined && to !== undefined && from >= to)
      throw new ValidationError('--from', 'must be before --to');
    const config = loadConfig({ allowMissingFile: true });
    const connection = await connectClient(config);
    try {
      const client = new Client({ connection, namespace: config.temporal.namespace });
      const handle = await client.workflow.start<typeof reconciliationWorkflow>('reconciliationWorkflow', {
        workflowId: `reconcile/manual/${new Date().toISOString()}`,
        taskQueue: config.temporal.taskQueue,
        args: [
          {
            ...(from !== undefined ? { from } : {}),
            ...(to !== undefined ? { to } : {}),
            ...(o.account ? { accountId: o.account } : {}),
            dryRun: Boolean(o.dryRun),
            staleAfterHours: config.reconciliation.staleAfterHours,
          },
        ],
      });
      const done = handle.result();
      let finished = false;
      void done.finally(() => (finished = true)).catch(() => undefined);
      while (!finished && !o.json) {
        const p = await handle.query<ReconciliationProgress>('progress').catch(() => undefined);
        if (p) process.stderr.write(`\r${progressBar(p.processed, p.total)} ${p.processed}/${p.total}   `);
        await Promise.race([done.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
      }
      const result = await done;
      if (!o.json)
        process.stderr.write(
          `\r${progressBar(result.total, result.total)} ${result.total}/${result.total}\n`,
        );
      print(Boolean(o.json), result, () => {
        const table = new Table({ head: ['class', 'count'] });
        for (const [cls, n] of Object.entries(result.counts)) table.push([cls, n]);
        return `run ${result.runId}${result.dryRun ? ' (dry run)' : ''}\n${table.toString()}`;
      });
    } finally {
      await connection.close();
    }
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
    const config = loadConfig({ allowMissingFile: true });
    const database = config.databaseUrl
      ? { url: config.databaseUrl, stop: async () => undefined }
      : await openDatabaseForCommand();
    const db = createDb(database.url, { max: 2 });
    try {
      const run = await db('reconciliation_runs')
        .where({ run_id: runId })
        .first<Record<string, unknown> | undefined>();
      if (!run) throw new CancelflowError('NOT_FOUND', `no reconciliation run ${runId}`);
      const items = await db('reconciliation_items')
        .where({ run_id: runId })
        .orderBy('cancel_order_id')
        .select<Array<Record<string, string | number | boolean | object | null>>>(
          'cancel_order_id',
          'class',
          'our_state',
          'provider_state',
          'repaired',
          'detail',
        );
      if (o.csv) {
        const cell = (v: string | number | boolean | object | null | undefined) => {
          const text =
            v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
          return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
        };
        const columns = ['cancel_order_id', 'class', 'our_state', 'provider_state', 'repaired', 'detail'];
        process.stdout.write(`${columns.join(',')}\n`);
        for (const item of items) process.stdout.write(`${columns.map((c) => cell(item[c])).join(',')}\n`);
        return;
      }
      print(Boolean(o.json), { run, items }, () => {
        const table = new Table({ head: ['cancelOrderId', 'class', 'ours', 'provider', 'repaired'] });
        for (const i of items.filter((x) => x.class !== 'MATCHED'))
          table.push([
            cellText(i.cancel_order_id),
            cellText(i.class),
            cellText(i.our_state),
            cellText(i.provider_state),
            i.repaired ? 'yes' : '',
          ]);
        return `run ${runId}: ${JSON.stringify(run.counts)}\n${table.toString()}\n(MATCHED rows omitted; --csv or --json for all ${items.length})`;
      });
    } finally {
      await db.destroy();
      await database.stop();
    }
  });

program
  .command('migrate')
  .description('database migrations (DATABASE_URL, or the dev stack Postgres)')
  .argument('[action]', 'latest, rollback or status', 'latest')
  .action((action: string) => runScript('migrate.ts', [action]));
program
  .command('dev')
  .description('the whole stack locally (npm run dev)')
  .action(() => runScript('dev.ts', []));
program
  .command('sandbox')
  .description('both provider sandboxes standalone (npm run sandbox)')
  .allowUnknownOption()
  .action((_o: unknown, cmd: Command) => runScript('sandbox.ts', cmd.args));

program.parseAsync().catch((err: unknown) => {
  const e = err as Error & { code?: string };
  process.stderr.write(`cancelflow: ${e.message}\n`);
  if (err instanceof ValidationError) process.exit(EXIT.input);
  if (err instanceof CancelflowError) {
    if (e.code === 'NOT_FOUND') process.exit(EXIT.notFound);
    if (e.code === 'DELIVERING') process.exit(EXIT.conflict);
    if (e.code === 'UNKNOWN_APP' || e.code === 'CONFIG_INVALID') process.exit(EXIT.input);
  }
  process.exit(EXIT.failure);
});
