import { ParentClosePolicy, proxyActivities, proxyLocalActivities, startChild } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { localPersistence, notificationAttempt, persistence, providerSubmit } from './activity-options';

type Activities = ReturnType<typeof createActivities>;
const { benchNoop } = proxyActivities<Activities>(persistence);
const submit = proxyActivities<Activities>(providerSubmit).benchNoop;
const attempt = proxyActivities<Activities>(notificationAttempt).benchNoop;
const localNoop = proxyLocalActivities<Activities>(localPersistence).benchNoop;

/**
 * The platform's own minimal units for `npm run bench` (issue 17): what one workflow with one
 * activity, or one local activity, costs on this server and worker. A cancellation's rate is
 * compared with these, not only with a workflow of its own shape (which would hide the shape's cost).
 */
export async function unitActivityWorkflow(id: string): Promise<string> {
  await benchNoop(id);
  return id;
}

export async function unitLocalActivityWorkflow(id: string): Promise<string> {
  await localNoop(id);
  return id;
}

/**
 * The platform ceiling for `npm run bench`: the same number and shape of activities and child
 * workflow as a happy-path cancellation (record, submit, two transitions; the notification child's
 * prepare, round, attempt, finish), each doing nothing.
 */
export async function ceilingWorkflow(id: string): Promise<string> {
  await benchNoop(id);
  await submit(id);
  await benchNoop(id);
  await benchNoop(id);
  await startChild(ceilingChildWorkflow, {
    workflowId: `ceiling-notify/${id}`,
    args: [id],
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
  return id;
}

export async function ceilingChildWorkflow(id: string): Promise<string> {
  await benchNoop(id);
  await benchNoop(id);
  await attempt(id);
  await benchNoop(id);
  return id;
}
