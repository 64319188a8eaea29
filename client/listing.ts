import { type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import {
  CancelAccount,
  CancelMchNo,
  CancelOrderId,
  CancelOrderRef,
  CancelProvider,
  CancelState,
} from '../workflows/search-attributes';
import type { CancellationExecution, CancellationSummary, ExecutionFilter, ListFilter } from './types';
import { quote } from './runs';

/** Cancellations and their runs, from Temporal's visibility store. */
export function createListing(client: Client) {
  /**
   * Cancellations from Temporal's visibility store, newest first: one entry per cancellation
   * (workflow id), from its newest run. A closed run's search attributes cannot change, so a
   * repair outside the workflow is recorded by a newer run of the id (activities/record-run.ts):
   * a run that matches the filter but is not the newest of its id is not the truth, and left out.
   */
  async function listCancellations(filter: ListFilter = {}): Promise<CancellationSummary[]> {
    const clauses = [`WorkflowType = 'cancellationWorkflow'`];
    if (filter.status) clauses.push(`CancelState = ${quote(filter.status)}`);
    if (filter.account) clauses.push(`CancelAccount = ${quote(filter.account)}`);
    if (filter.mchNo) clauses.push(`CancelMchNo = ${quote(filter.mchNo)}`);
    if (filter.since) clauses.push(`StartTime >= ${quote(filter.since.toISOString())}`);
    if (filter.until) clauses.push(`StartTime < ${quote(filter.until.toISOString())}`);
    const limit = filter.limit ?? 100;
    const out: CancellationSummary[] = [];
    const seen = new Set<string>();
    for await (const e of client.workflow.list({
      query: clauses.join(' AND '),
      pageSize: Math.min(limit, 1000),
    })) {
      // Open runs come first, then closed ones newest close first: the first of an id is its newest.
      if (seen.has(e.workflowId)) continue;
      seen.add(e.workflowId);
      if (filter.status) {
        const newest = await client.workflow
          .getHandle(e.workflowId)
          .describe()
          .catch(() => undefined);
        if (newest && newest.runId !== e.runId) continue;
      }
      out.push(summaryOf(e));
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * Runs of cancellations, newest start first, each with Temporal's status of the run. Visibility
   * lists open runs first, then closed ones by close time, newest first; a run closes after it
   * starts, so once a run closed before the oldest start kept, no later one can be newer. A run
   * continued as new is left out: its successor is listed.
   */
  async function listExecutions(filter: ExecutionFilter = {}): Promise<CancellationExecution[]> {
    const clauses = [`WorkflowType = 'cancellationWorkflow'`, `ExecutionStatus != 'ContinuedAsNew'`];
    if (filter.status) clauses.push(`CancelState = ${quote(filter.status)}`);
    if (filter.account) clauses.push(`CancelAccount = ${quote(filter.account)}`);
    if (filter.provider) clauses.push(`CancelProvider = ${quote(filter.provider)}`);
    if (filter.mchNo) clauses.push(`CancelMchNo = ${quote(filter.mchNo)}`);
    if (filter.orderRefs?.length)
      clauses.push(`CancelOrderRef IN (${filter.orderRefs.map(quote).join(', ')})`);
    if (filter.since) clauses.push(`StartTime >= ${quote(filter.since.toISOString())}`);
    if (filter.until) clauses.push(`StartTime < ${quote(filter.until.toISOString())}`);
    const limit = filter.limit ?? 100;
    const kept: CancellationExecution[] = [];
    for await (const e of client.workflow.list({
      query: clauses.join(' AND '),
      pageSize: Math.min(Math.max(limit, 100), 1000),
    })) {
      const oldest = kept.length >= limit ? kept[kept.length - 1]?.startTime.getTime() : undefined;
      if (oldest !== undefined && e.closeTime && e.closeTime.getTime() < oldest) break;
      const run = {
        ...summaryOf(e),
        provider: e.typedSearchAttributes.get(CancelProvider) ?? '',
        execution: e.status.name,
      };
      const at = kept.findIndex((k) => k.startTime.getTime() < run.startTime.getTime());
      kept.splice(at === -1 ? kept.length : at, 0, run);
      if (kept.length > limit) kept.pop();
    }
    return kept;
  }

  return { listCancellations, listExecutions };
}

function summaryOf(e: WorkflowExecutionInfo): CancellationSummary {
  const sa = e.typedSearchAttributes;
  return {
    workflowId: e.workflowId,
    cancelOrderId: sa.get(CancelOrderId) ?? '',
    status: sa.get(CancelState) ?? '',
    account: sa.get(CancelAccount) ?? '',
    mchNo: sa.get(CancelMchNo) ?? '',
    orderRef: sa.get(CancelOrderRef) ?? '',
    startTime: e.startTime,
    ...(e.closeTime ? { closeTime: e.closeTime } : {}),
  };
}
