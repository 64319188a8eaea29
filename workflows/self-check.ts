import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { selfCheck } from './activity-options';

const { recordSelfCheck } = proxyActivities<ReturnType<typeof createActivities>>(selfCheck);

/** Round trip through a worker and Postgres: writes a row and reads it back. */
export async function selfCheckWorkflow(token: string): Promise<{ token: string; workerIdentity: string }> {
  return recordSelfCheck(token);
}
