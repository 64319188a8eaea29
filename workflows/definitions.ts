import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AcceptRequest, CancellationSnapshot, ProviderOutcomeSignal } from '../contract/cancellation';
import type { ReconciliationProgress } from '../contract/reconciliation';

/**
 * The workflows' messages, defined once and used by definition (never by name) from
 * the workflow, the client, the API and reconciliation.
 */
export const statusQuery = defineQuery<CancellationSnapshot>('status');
export const providerOutcomeSignal = defineSignal<[ProviderOutcomeSignal]>('providerOutcome');
/** Update-with-Start's update: answers the merchant from the workflow itself (no result() race). */
export const acceptUpdate = defineUpdate<CancellationSnapshot, [AcceptRequest]>('accept');
/**
 * Where a running cancellation stands, for the client whose wait ran out (client/start.ts): the
 * same answer as `statusQuery`, asked as an update so that it is ordered in the run's history. A
 * query answered while a local activity's result is pending makes the SDK (1.24) complete the
 * workflow task with the activity's marker before the workflow has seen its result; an update
 * taken in the next task then lands between them, and the history no longer replays
 * (RELIABILITY.md, docs/incidents/2026-12-02-query-while-local-activity.binpb).
 */
export const statusUpdate = defineUpdate<CancellationSnapshot>('status');
/** A running reconciliation's progress (`cancelflow reconcile --wait`). */
export const progressQuery = defineQuery<ReconciliationProgress>('progress');
