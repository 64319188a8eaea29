import {
  allHandlersFinished,
  condition,
  defineUpdate,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { localPersistence, notificationAttempt, persistence, providerSubmit } from './activity-options';
import { CancelOrderId, CancelState } from './search-attributes';

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

/** The lean ceiling's answer: given once the "final transition" has run (as `accept` is). */
export const ceilingAnswerUpdate = defineUpdate<string, []>('ceilingAnswer');

/**
 * The platform ceiling for `npm run bench`: a happy-path cancellation's shape (25 history events)
 * with no work in it. Started with Update-with-Start like the merchant's cancel; a patch marker and
 * its search attribute, the record (a local activity), the search attributes, the provider's
 * cancel (an activity), the final transition (a local activity) and its search attribute, the
 * answer, the first notification attempt (an activity), each doing nothing. What cancelflow costs
 * above it is the real work: the API, the provider and merchant HTTP, Postgres.
 */
export async function ceilingWorkflow(id: string): Promise<string> {
  let answered = false;
  setHandler(ceilingAnswerUpdate, async () => {
    await condition(() => answered);
    return id;
  });
  patched('bench-ceiling');
  await localNoop(id);
  upsertSearchAttributes([
    { key: CancelOrderId, value: id },
    { key: CancelState, value: 'SUBMITTED' },
  ]);
  await submit(id);
  await localNoop(id);
  upsertSearchAttributes([{ key: CancelState, value: 'SUCCEEDED' }]);
  answered = true;
  await attempt(id);
  await condition(allHandlersFinished);
  return id;
}
