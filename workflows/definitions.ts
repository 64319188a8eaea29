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
/** A running reconciliation's progress (`cancelflow reconcile --wait`). */
export const progressQuery = defineQuery<ReconciliationProgress>('progress');
