import type { Command } from 'commander';
import { SENT_NOT_ANSWERED } from '../../contract/audit';
import { CancelflowError } from '../../common/errors';
import { cancellationHistory, findCancellation, type HistoryEvent } from '../records';
import { cellText, cliConfig, print, scopeOf, table, withDatabase, type Scoped } from './context';

function eventRow(e: HistoryEvent): string[] {
  const at = e.at.toISOString();
  switch (e.kind) {
    case 'transition':
      return [at, `transition #${e.seq}`, `${e.status} (state ${e.state})`, e.reason ?? ''];
    case 'provider': {
      // The row written ahead of the request, never completed: sent, its answer not recorded.
      if (e.outcome === SENT_NOT_ANSWERED)
        return [at, `provider ${e.operation}`, 'sent; answer not recorded', 'written before sending'];
      const d = e.detail ?? {};
      const said = [d.code, d.message ?? d.reason].filter((v) => v !== undefined).map(cellText);
      return [
        at,
        `provider ${e.operation}`,
        `${e.httpStatus === null ? 'no HTTP answer' : `HTTP ${e.httpStatus}`}, signature ${e.signature}, ${e.outcome}`,
        [`${e.latencyMs} ms`, ...said, ...(e.error ? [e.error] : [])].join('; '),
      ];
    }
    case 'callback':
      return [
        at,
        'provider callback',
        `${e.verdict}${e.state === null ? '' : `, state ${e.state}`}`,
        `${e.reason ?? ''}${e.signalled ? ' (signalled the run)' : ''}`,
      ];
    case 'notification': {
      const result = e.state === 'sending' ? 'sending' : e.success ? 'delivered' : 'failed';
      return [
        at,
        `notification ${e.round}.${e.attempt}`,
        `${result}${e.httpStatus === null ? '' : `, HTTP ${e.httpStatus}`}`,
        [
          ...(e.durationMs === null ? [] : [`${e.durationMs} ms`]),
          ...(e.error ? [e.error] : []),
          ...(e.bodyExcerpt ? [JSON.stringify(e.bodyExcerpt)] : []),
        ].join('; '),
      ];
    }
  }
}

/** `why` (`show`): one cancellation's whole story, from Postgres alone. */
export function registerWhyCommand(program: Command): void {
  program
    .command('why')
    .alias('show')
    .description(
      'one cancellation from Postgres: its record, then every transition, provider exchange, callback and notification attempt, in time order',
    )
    .argument('<cancelOrderId>', 'cancelOrderId or workflow id')
    .option('--mch-no <mchNo>', 'only if it belongs to this merchant')
    .option('--app-id <appId>', 'only if it belongs to this app')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o: Scoped) => {
      const scope = scopeOf(o);
      await withDatabase(cliConfig(), async (db) => {
        const record = await findCancellation(db, id, scope);
        if (!record) throw new CancelflowError('NOT_FOUND', `no cancellation ${id}`);
        const events = await cancellationHistory(db, record.cancel_order_id);
        print(Boolean(o.json), { cancellation: record, events }, () => {
          const r = record;
          const head = table();
          const rows: Array<[string, string]> = [
            ['cancelOrderId', r.cancel_order_id],
            ['workflow', r.workflow_id],
            ['status', `${r.status} (state ${r.state})${r.retryable ? ', may be retried' : ''}`],
            ['app', `${r.mch_no}/${r.app_id}`],
            ['account', `${r.account_id} (${r.provider})`],
            [
              'order',
              [r.pay_order_id && `pay ${r.pay_order_id}`, r.mch_order_no && `mch ${r.mch_order_no}`]
                .filter(Boolean)
                .join(', '),
            ],
            ['provider cancel id', r.provider_cancel_id ?? ''],
            ['error', r.err_code ? `${r.err_code} ${r.err_msg ?? ''}` : ''],
            ['created, updated', `${cellText(r.created_at)}, ${cellText(r.updated_at)}`],
            ['retired', r.retired_at ? cellText(r.retired_at) : ''],
            ['retry of', r.retry_of ?? ''],
            [
              'notification',
              r.notification_status
                ? `${r.notification_status}, ${r.notification_rounds} round(s), ${r.notification_attempts} attempt(s)`
                : '',
            ],
          ];
          for (const [k, v] of rows) head.push({ [k]: v });
          const history = table({ head: ['at', 'what', 'result', 'detail'] });
          for (const e of events) history.push(eventRow(e));
          return `${head.toString()}\n${history.toString()}\n${events.length} event(s)`;
        });
      });
    });
}
