import type { ActivityOptions } from '@temporalio/workflow';

/**
 * Every activity's timeouts and retry policy, in one place.
 *
 * - `persistence`: database writes are idempotent, so Temporal may retry them freely.
 * - `providerQuery`: asking a provider is safe to repeat.
 * - `providerSubmit`: sending a cancel is NOT safe to repeat blindly: one attempt only; a failed
 *   attempt is an unknown outcome that the workflow resolves by querying first.
 * - `notificationAttempt`: one HTTP attempt; the notification schedule is the retry policy.
 */
export const persistence = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const satisfies ActivityOptions;

export const providerQuery = {
  startToCloseTimeout: '45 seconds',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
  },
} as const satisfies ActivityOptions;

export const providerSubmit = {
  startToCloseTimeout: '45 seconds',
  retry: { maximumAttempts: 1 },
} as const satisfies ActivityOptions;

export const notificationAttempt = {
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
} as const satisfies ActivityOptions;

export const selfCheck = {
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
} as const satisfies ActivityOptions;

/**
 * One reconciliation check (query the provider, compare, record, repair). Retries cover
 * transport trouble; an answer still unknown on the last attempt is recorded as ERROR.
 */
export const reconcileCheck = {
  // Longer than one provider call (connect 5 s + answer 20 s by default), short enough that a
  // check held by a crashed worker is retried soon.
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '30 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 3,
  },
} as const satisfies ActivityOptions;
