import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal as proto } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import type { World } from './world';

export interface RecordedHistory {
  workflowId: string;
  history: proto.api.history.v1.IHistory;
}

/**
 * Every completed run on this world's task queue (optionally of one workflow type), replayed with
 * the current workflow bundle; returns the histories and how many replayed without error.
 */
export async function replayCompletedRuns(
  world: World,
  workflowType?: string,
): Promise<{ histories: RecordedHistory[]; failures: string[] }> {
  const executions = [];
  for await (const e of world.temporal.client.workflow.list({
    query: `TaskQueue = '${world.temporal.taskQueue}' AND ExecutionStatus = 'Completed'${workflowType ? ` AND WorkflowType = '${workflowType}'` : ''}`,
  }))
    executions.push(e);
  const histories = await Promise.all(
    executions.map(async (e) => ({
      workflowId: e.workflowId,
      history: await world.temporal.client.workflow.getHandle(e.workflowId, e.runId).fetchHistory(),
    })),
  );
  const failures: string[] = [];
  for await (const result of Worker.runReplayHistories(
    { workflowBundle: world.temporal.workflowBundle },
    histories,
  ))
    if (result.error) failures.push(`${result.workflowId}: ${String(result.error)}`);
  return { histories, failures };
}

/** RECORD_HISTORIES=1: write these histories as committed replay fixtures (test/replay/histories). */
export function recordFixtures(histories: RecordedHistory[]): void {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const dir = path.resolve(__dirname, '..', 'replay', 'histories');
  mkdirSync(dir, { recursive: true });
  for (const h of histories) {
    const name = h.workflowId.replace(/[^A-Za-z0-9_-]+/g, '_');
    writeFileSync(path.join(dir, `${name}.binpb`), proto.api.history.v1.History.encode(h.history).finish());
  }
}
