/** 5. History events of one happy-path cancellation (and its notification child), and of the units. */
import type { Client } from '@temporalio/client';
import { LEVELS } from './knobs';

export interface HistoryCounts {
  cancellation: number;
  notification: number;
  unitActivity: number;
  unitLocalActivity: number;
}

/** 5. History events of one happy-path cancellation (and its notification child). */
export async function measureHistory(
  client: Client,
  sample: { workflowId: string; cancelOrderId: string },
): Promise<HistoryCounts> {
  const main = await client.workflow.getHandle(sample.workflowId).fetchHistory();
  // Lean runs make the first notification attempt themselves: a child only after a failure.
  const child = await client.workflow
    .getHandle(`notify/${sample.cancelOrderId}`)
    .fetchHistory()
    .catch(() => ({ events: [] }));
  const unitEvents = async (workflowId: string) =>
    (await client.workflow.getHandle(workflowId).fetchHistory()).events?.length ?? 0;
  return {
    cancellation: main.events?.length ?? 0,
    notification: child.events?.length ?? 0,
    unitActivity: await unitEvents(`unitActivityWorkflow-${LEVELS[0]}-0`),
    unitLocalActivity: await unitEvents(`unitLocalActivityWorkflow-${LEVELS[0]}-0`),
  };
}
