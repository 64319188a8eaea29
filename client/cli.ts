import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Client } from '@temporalio/client';
import Table from 'cli-table3';
import { Command, Option } from 'commander';
import { loadConfig } from '../common/config';
import { CancelflowError } from '../common/errors';
import { connectClient } from '../common/temporal-connection';
import { createCancelflowClient, ValidationError, type CancellationStatus } from './index';

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
      const result = o.wait ? await cancelflow.waitForResult(started.workflowId) : undefined;
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
  .option('--json', 'machine-readable output')
  .action(async (id: string, o: { json?: boolean }) => {
    await withClient(async (cancelflow) => {
      const s = await cancelflow.getCancellation(id);
      print(Boolean(o.json), s, () => {
        const table = new Table();
        const rows: Array<[string, string | number | undefined]> = [
          ['cancelOrderId', s.cancelOrderId],
          ['workflow', s.workflowId],
          ['status', `${s.status} (state ${s.state})`],
          ['account', `${s.accountId} (${s.provider})`],
          ['order', s.order.payOrderId ?? s.order.mchOrderNo],
          ['provider cancel id', s.providerCancelId ?? ''],
          ['error', s.errCode ? `${s.errCode} ${s.errMsg ?? ''}` : ''],
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
