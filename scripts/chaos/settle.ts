import type { Connection } from '@temporalio/client';
import type { Knex } from '../../common/db';
import { TERMINAL } from './collect';

/**
 * After the load and the faults: wait until everything that was started has finished — every
 * active row terminal or UNRESOLVED, no cancellation, notification or repair workflow running —
 * or until `until`, or until nothing has changed for 5 minutes. Reports what was still open.
 */

/**
 * Nothing changed for this long: what is open will not finish by itself (the longest legitimate
 * quiet spell is the notification schedule's 150 s gap).
 */
const NO_PROGRESS_MS = 300_000;

export interface OpenWork {
  openRows: number;
  runningWorkflows: number;
}

export async function openWork(db: Knex, connection: Connection): Promise<OpenWork> {
  const [rows] = await db('cancellations')
    .whereNull('retired_at')
    .whereNotIn('status', [...TERMINAL, 'UNRESOLVED'])
    .count<Array<{ n: string }>>({ n: '*' });
  const { count } = await connection.workflowService.countWorkflowExecutions({
    namespace: 'default',
    query: `ExecutionStatus = "Running" AND WorkflowType IN ("cancellationWorkflow", "notificationWorkflow", "repairWorkflow")`,
  });
  return { openRows: Number(rows?.n ?? 0), runningWorkflows: Number(count ?? 0) };
}

export async function settle(
  db: Knex,
  connection: Connection,
  until: number,
  log: (line: string) => void,
): Promise<{ settled: boolean; last?: OpenWork; tookMs: number }> {
  const started = Date.now();
  let last: OpenWork | undefined;
  let lastLog = 0;
  let unchangedSince = Date.now();
  while (Date.now() < until) {
    try {
      const now = await openWork(db, connection);
      if (!last || now.openRows !== last.openRows || now.runningWorkflows !== last.runningWorkflows)
        unchangedSince = Date.now();
      last = now;
      if (last.openRows === 0 && last.runningWorkflows === 0)
        return { settled: true, last, tookMs: Date.now() - started };
      if (Date.now() - unchangedSince > NO_PROGRESS_MS) {
        log(`settling: no progress for ${NO_PROGRESS_MS / 1000} s; stop waiting`);
        break;
      }
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(`settling: ${last.openRows} rows not final, ${last.runningWorkflows} workflows running`);
      }
    } catch (err) {
      log(`settling: cannot read the state yet (${err instanceof Error ? err.message : String(err)})`);
    }
    await new Promise((r) => setTimeout(r, 3_000));
  }
  return { settled: false, ...(last ? { last } : {}), tookMs: Date.now() - started };
}
