import type { ActivityOptions, LocalActivityOptions } from '@temporalio/workflow';

/**
 * Every activity's timeouts and retry policy, in one place.
 *
 * - `persistence`: database writes are idempotent, so Temporal may retry them freely.
 * - `providerQuery`: asking a provider is safe to repeat.
 * - `providerSubmit`: sending a cancel is NOT safe to repeat blindly: one attempt only; a failed
 *   attempt is an unknown outcome that the workflow resolves by querying first.
 * - `notificationAttempt`: one HTTP attempt of a notification. A failed delivery is retried by the
 *   notification schedule, not here; these retries are for our own faults (Postgres, a lost
 *   worker), and the activity never repeats an exchange it made (see `deliverNotificationAttempt`).
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

/** `providerQuery`'s and `providerSubmit`'s startToCloseTimeout in ms: provider HTTP timeouts must fit in it. */
export const providerCallTimeoutMs = 45_000;

/**
 * No maximum: an outage of Postgres or of every worker delays the attempt, it does not use it up
 * (the attempt's own non-retryable failures still end it). What the HTTP exchange leaves of the
 * timeout is spent retrying the write of its result; past that, the next run records it.
 */
export const notificationAttempt = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const satisfies ActivityOptions;

/** `notificationAttempt`'s startToCloseTimeout in ms: the notification HTTP timeout must fit in it. */
export const notificationAttemptTimeoutMs = 30_000;

export const selfCheck = {
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
} as const satisfies ActivityOptions;

/**
 * One page of reconciliation checks for one account (see `reconcilePage`). A page takes as long
 * as the account's rate limit makes it (1,000 rows at 20/s: 50 s); it heartbeats every 5 s, so a
 * page held by a crashed worker is retried 30 s after its last heartbeat and resumes where it
 * stopped. Retries are for our own trouble (Postgres, a lost worker); the provider's unreadable
 * answers are handled row by row inside the page.
 */
export const reconcilePageOptions = {
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  scheduleToCloseTimeout: '6 hours',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
  },
} as const satisfies ActivityOptions;

/**
 * The cancellation's own short, idempotent database writes (its row, its transitions) run as
 * local activities: in the workflow task that needs them, without a round trip through the task
 * queue (one marker event instead of three events and a workflow task). Retried like
 * `persistence`; a retry longer than the workflow task becomes a durable timer.
 */
export const localPersistence = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const satisfies LocalActivityOptions;
