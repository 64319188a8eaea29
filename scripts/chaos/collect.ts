import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Knex } from '../../common/db';
import { TERMINAL_STATUSES } from '../../contract/cancellation';

/**
 * Everything the invariants are checked from, read once after the run settled: Postgres (rows,
 * refs, transitions, provider calls, notifications and their attempts) and Temporal (every
 * execution in visibility, and every history, scanned as it streams by for workflow-task failures
 * and for the run's secrets).
 */

export interface CancellationRow {
  cancel_order_id: string;
  workflow_id: string;
  mch_no: string;
  app_id: string;
  account_id: string;
  order_ref: string;
  status: string;
  state: number;
  notify_url: string | null;
  retired_at: Date | null;
  created_at: Date;
  deadline_at: Date | null;
}

export interface PostgresFacts {
  rows: CancellationRow[];
  refs: Array<{ mch_no: string; app_id: string; order_ref: string; cancel_order_id: string }>;
  duplicateSeqs: Array<{ cancel_order_id: string; seq: number; n: number }>;
  /** First terminal transition per cancellation (throughput). */
  finishedAt: Array<{ cancel_order_id: string; at: Date }>;
  /** Signatures of every recorded provider exchange. */
  callSigns: Set<string>;
  providerCalls: number;
  notifications: Array<{ notification_id: string; cancel_order_id: string; status: string }>;
  attempts: Array<{
    notification_id: string;
    success: boolean | null;
    state: string;
    started_at: Date;
    duration_ms: number | null;
  }>;
}

export const TERMINAL: readonly string[] = TERMINAL_STATUSES;

export async function readPostgres(db: Knex): Promise<PostgresFacts> {
  const [rows, refs, dup, finished, calls, notifications, attempts] = await Promise.all([
    db('cancellations').select(
      'cancel_order_id',
      'workflow_id',
      'mch_no',
      'app_id',
      'account_id',
      'order_ref',
      'status',
      'state',
      'notify_url',
      'retired_at',
      'created_at',
      'deadline_at',
    ) as Promise<CancellationRow[]>,
    db('cancellation_refs').select() as Promise<PostgresFacts['refs']>,
    db('cancellation_transitions')
      .select('cancel_order_id', 'seq')
      .count<Array<{ cancel_order_id: string; seq: number; n: string }>>({ n: '*' })
      .groupBy('cancel_order_id', 'seq')
      .havingRaw('count(*) > 1'),
    db('cancellation_transitions')
      .whereIn('status', TERMINAL)
      .select('cancel_order_id')
      .min<Array<{ cancel_order_id: string; at: Date }>>({ at: 'at' })
      .groupBy('cancel_order_id'),
    db('provider_calls').select(
      db.raw(`coalesce(request->'headers'->>'sign', request->'body'->>'sign') as sign`),
    ) as unknown as Promise<Array<{ sign: string | null }>>,
    db('notifications').select('notification_id', 'cancel_order_id', 'status') as Promise<
      PostgresFacts['notifications']
    >,
    db('notification_attempts').select(
      'notification_id',
      'success',
      'state',
      'started_at',
      'duration_ms',
    ) as Promise<PostgresFacts['attempts']>,
  ]);
  return {
    rows,
    refs,
    duplicateSeqs: dup.map((d) => ({ ...d, n: Number(d.n) })),
    finishedAt: finished,
    callSigns: new Set(calls.map((c) => c.sign).filter((s): s is string => !!s)),
    providerCalls: calls.length,
    notifications,
    attempts,
  };
}

export interface Execution {
  workflowId: string;
  runId: string;
  type: string;
  status: string;
  startedAt: number;
  closedAt?: number;
}

export interface TemporalFacts {
  executions: Execution[];
  /** workflowId/runId → causes of its failed workflow tasks. */
  taskFailures: Map<string, string[]>;
  /** workflowId/runId → the message of each of its failed workflow tasks (first 500 characters). */
  taskFailureMessages: Map<string, string[]>;
  /** workflowId/runId → its whole history (protobuf `History`), kept only when a task failed of a cause that is not benign. */
  failedTaskHistories: Map<string, Buffer>;
  historiesRead: number;
  historyBytes: number;
  /** Secret label → executions whose history holds it. */
  secretHits: Map<string, string[]>;
}

/** Workflow-task failure causes a fault explains (a worker lost, a signal or update mid-task). */
const BENIGN_TASK_FAILURES = new Set(['UNHANDLED_COMMAND', 'RESET_STICKY_TASK_QUEUE', 'UNHANDLED_UPDATE']);
export const notBenign = (cause: string): boolean => !BENIGN_TASK_FAILURES.has(cause);

const STATUS = temporal.api.enums.v1.WorkflowExecutionStatus;
const CAUSE = temporal.api.enums.v1.WorkflowTaskFailedCause;
const WFT_FAILED = temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED;

function ms(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!ts?.seconds) return undefined;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

export async function listExecutions(connection: Connection): Promise<Execution[]> {
  const out: Execution[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await connection.workflowService.listWorkflowExecutions({
      namespace: 'default',
      pageSize: 1000,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const e of page.executions ?? []) {
      const closedAt = ms(e.closeTime);
      out.push({
        workflowId: e.execution?.workflowId ?? '',
        runId: e.execution?.runId ?? '',
        type: e.type?.name ?? '',
        status: STATUS[e.status ?? 0]?.replace('WORKFLOW_EXECUTION_STATUS_', '') ?? String(e.status),
        startedAt: ms(e.startTime) ?? 0,
        ...(closedAt ? { closedAt } : {}),
      });
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return out;
}

/**
 * Reads every history (paged, `concurrency` at a time), encodes each page to its protobuf bytes
 * (payloads are raw JSON bytes there) and looks for every secret in them.
 */
export async function readHistories(
  connection: Connection,
  executions: Execution[],
  secrets: Map<string, string>,
  concurrency = 8,
): Promise<TemporalFacts> {
  const facts: TemporalFacts = {
    executions,
    taskFailures: new Map(),
    taskFailureMessages: new Map(),
    failedTaskHistories: new Map(),
    historiesRead: 0,
    historyBytes: 0,
    secretHits: new Map(),
  };
  const needles = [...secrets].map(([label, value]) => ({ label, bytes: Buffer.from(value, 'utf8') }));
  let next = 0;
  const one = async (e: Execution): Promise<void> => {
    let nextPageToken: Uint8Array | undefined;
    const key = `${e.workflowId}/${e.runId}`;
    // Encoded pages concatenate into one History (protobuf appends repeated fields).
    const pages: Buffer[] = [];
    do {
      const page = await connection.workflowService.getWorkflowExecutionHistory({
        namespace: 'default',
        execution: { workflowId: e.workflowId, runId: e.runId },
        maximumPageSize: 1000,
        ...(nextPageToken ? { nextPageToken } : {}),
      });
      const bytes = Buffer.from(temporal.api.history.v1.History.encode(page.history ?? {}).finish());
      facts.historyBytes += bytes.length;
      pages.push(bytes);
      for (const n of needles)
        if (bytes.includes(n.bytes))
          facts.secretHits.set(n.label, [...(facts.secretHits.get(n.label) ?? []), key]);
      for (const ev of page.history?.events ?? []) {
        if (ev.eventType !== WFT_FAILED) continue;
        const cause = CAUSE[ev.workflowTaskFailedEventAttributes?.cause ?? 0] ?? 'UNKNOWN';
        facts.taskFailures.set(key, [
          ...(facts.taskFailures.get(key) ?? []),
          cause.replace('WORKFLOW_TASK_FAILED_CAUSE_', ''),
        ]);
        facts.taskFailureMessages.set(key, [
          ...(facts.taskFailureMessages.get(key) ?? []),
          (ev.workflowTaskFailedEventAttributes?.failure?.message ?? '').slice(0, 500),
        ]);
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken);
    if (facts.taskFailures.get(key)?.some(notBenign))
      facts.failedTaskHistories.set(key, Buffer.concat(pages));
    facts.historiesRead += 1;
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const e = executions[next++];
        if (!e) return;
        await one(e);
      }
    }),
  );
  return facts;
}
