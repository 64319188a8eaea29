import { Option, type Command } from 'commander';
import { orderRefsOf } from '../../contract/ids';
import type { CancellationStatus } from '../index';
import { cliConfig, isoDate, knownAccount, positiveInteger, print, table, withTemporal } from './context';

const STATUSES: CancellationStatus[] = [
  'RECEIVED',
  'SUBMITTED',
  'PENDING',
  'SUCCEEDED',
  'FAILED',
  'CLOSED',
  'UNRESOLVED',
];

/** Temporal's run status as its UI spells it: `TIMED_OUT` → `TimedOut`. */
const executionName = (status: string) =>
  status
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

export function registerListCommand(program: Command): void {
  program
    .command('list')
    .description('cancellations, newest first (from Temporal visibility), with the state of each run')
    .addOption(new Option('--status <status>', 'only this status').choices(STATUSES))
    .option('--account <id>', 'only this provider account (one of the config file)')
    .addOption(new Option('--provider <provider>', 'only this provider').choices(['payby', 'unified']))
    .option('--mch-no <mchNo>', 'only this merchant')
    .option('--order <number>', 'only the cancellation started for this payOrderId or mchOrderNo')
    .option('--since <iso>', 'started at or after')
    .option('--until <iso>', 'started before')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .action(
      async (o: {
        status?: CancellationStatus;
        account?: string;
        provider?: string;
        mchNo?: string;
        order?: string;
        since?: string;
        until?: string;
        limit: string;
        json?: boolean;
      }) => {
        const config = cliConfig();
        const since = isoDate(o.since, '--since');
        const until = isoDate(o.until, '--until');
        const limit = positiveInteger(o.limit, '--limit');
        const account = knownAccount(config, o.account);
        await withTemporal(config, async ({ cancelflow }) => {
          const list = await cancelflow.listExecutions({
            ...(o.status ? { status: o.status } : {}),
            ...(account ? { account } : {}),
            ...(o.provider ? { provider: o.provider } : {}),
            ...(o.mchNo ? { mchNo: o.mchNo } : {}),
            ...(o.order ? { orderRefs: orderRefsOf({ payOrderId: o.order, mchOrderNo: o.order }) } : {}),
            ...(since ? { since } : {}),
            ...(until ? { until } : {}),
            limit,
          });
          print(Boolean(o.json), list, () => {
            const t = table({
              head: ['cancelOrderId', 'status', 'run', 'account', 'merchant', 'order', 'started'],
            });
            for (const c of list)
              t.push([
                c.cancelOrderId,
                c.status,
                executionName(c.execution),
                c.account,
                c.mchNo,
                c.orderRef,
                c.startTime.toISOString(),
              ]);
            return `${t.toString()}\n${list.length} cancellation(s)`;
          });
        });
      },
    );
}
