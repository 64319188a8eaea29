import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AcceptRequest, CancellationSnapshot, ProviderOutcomeSignal } from './types';

/**
 * The cancellation workflow's messages, defined once and used by definition (never by name) from
 * the workflow, the client, the API and reconciliation.
 */
export const statusQuery = defineQuery<CancellationSnapshot>('status');
export const providerOutcomeSignal = defineSignal<[ProviderOutcomeSignal]>('providerOutcome');
/** Update-with-Start's update: answers the merchant from the workflow itself (no result() race). */
export const acceptUpdate = defineUpdate<CancellationSnapshot, [AcceptRequest]>('accept');
