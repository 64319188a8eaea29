/** The deliverNotificationAttempt activity: one attempt, written ahead, sent within its time, recorded. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { NOT_SENT } from '../contract/failures';
import type { NotificationAttemptResult } from '../contract/notification';
import type { ActivityDeps } from './deps';
import {
  RECORD_MARGIN_MS,
  createAttemptRecorder,
  resultOf,
  type AttemptKey,
  type AttemptRow,
  type SentAttempt,
} from './notification-attempt-rows';
import { connectMsOf, createExchange, type NotificationRow } from './notification-exchange';

/** Builds the notification workflow's deliverNotificationAttempt activity. */
export function createAttemptDelivery({ db, config, logger }: ActivityDeps) {
  const exchange = createExchange(config);
  const { record, finishAttempt } = createAttemptRecorder({ db, logger });

  /**
   * One attempt: an `application/x-www-form-urlencoded` POST of the stored payload. Delivered
   * means a 2xx whose body is exactly `success` in any letter case; any other answer, no answer
   * or a refusal by the address policy is a failed attempt, and the workflow's schedule is the
   * retry policy for those. Our own faults (Postgres, a lost worker) use up no attempt: the
   * activity is retried by Temporal, and a retry never sends an attempt a second time.
   * 1. The attempt row is written (`sending`) before any request: if Postgres is down, nothing
   *    is sent and the retry starts afresh.
   * 2. The exchange's result is heartbeated, so it outlives this run in Temporal.
   * 3. The result is written, retried here until shortly before the start-to-close timeout, then
   *    left to the activity's retry, which finds the `sending` row and the heartbeated result.
   */
  return async function deliverNotificationAttempt(input: {
    notificationId: string;
    round: number;
    attemptNo: number;
    /** Date.now() when the activity making this attempt began (a step of a longer one). */
    activityStartedAt?: number;
  }): Promise<NotificationAttemptResult> {
    const ctx = Context.current();
    // This activity's own deadline, not a fresh budget: the attempt may be one step of a longer
    // activity (deliverFirstNotification), whose earlier steps used some of the time. Counted on
    // this worker's clock from when the activity began here, as Temporal counts start-to-close.
    const activityBegan = input.activityStartedAt ?? Date.now();
    const left = () => activityBegan + ctx.info.startToCloseTimeoutMs - Date.now();
    const recordBy = performance.now() + left() - RECORD_MARGIN_MS;
    const key: AttemptKey = {
      notification_id: input.notificationId,
      round: input.round,
      attempt_no: input.attemptNo,
    };
    const existing = await db('notification_attempts').where(key).first<AttemptRow | undefined>();
    if (existing && existing.state !== 'sending') return resultOf(existing);
    if (existing) {
      const carried = ctx.info.heartbeatDetails as SentAttempt | undefined;
      if (carried) {
        ctx.heartbeat(carried); // should this run fail too, its failure carries the result on
        return record(key, carried, recordBy);
      }
      // Written ahead, then the run was lost before its result reached Temporal: the request may
      // have gone out. The attempt counts as used and not delivered rather than being sent twice;
      // the schedule's next attempt sends again, with the same notification id for receivers
      // that got this one to drop.
      return finishAttempt(key, existing.started_at, {
        state: 'unknown',
        success: false,
        error: 'outcome unknown: the attempt was interrupted after it was written ahead',
      });
    }
    const row = await db('notifications')
      .where({ notification_id: input.notificationId })
      .first<NotificationRow | undefined>();
    if (!row) throw ApplicationFailure.nonRetryable(`no notification ${input.notificationId}`, 'NOT_FOUND');

    // The exchange must end, and be recorded, before Temporal times this activity out: an answer
    // arriving after it would be lost and the attempt sent again. Too little time left (slow
    // Postgres before it): nothing is sent, and the retry has the whole budget.
    const { timeoutMs } = config.notifications;
    const responseMs = Math.min(timeoutMs, left() - connectMsOf(timeoutMs) - RECORD_MARGIN_MS);
    if (responseMs < timeoutMs / 2)
      throw ApplicationFailure.retryable(
        `attempt ${input.round}.${input.attemptNo} of ${input.notificationId} not sent: ${Math.max(0, left())} ms ` +
          `left in this activity, too little for a ${timeoutMs} ms exchange; the retry sends it`,
        NOT_SENT,
      );
    const startedAt = new Date();
    const written = await db('notification_attempts')
      .insert({ ...key, state: 'sending', started_at: startedAt })
      .onConflict(['notification_id', 'round', 'attempt_no'])
      .ignore()
      .returning('id');
    // Another run wrote it meanwhile (this one was presumed lost): the retry resolves it as above.
    if (written.length === 0)
      throw ApplicationFailure.retryable(
        `attempt ${input.round}.${input.attemptNo} of ${input.notificationId} is being made by another run`,
        'ATTEMPT_IN_PROGRESS',
      );
    const began = performance.now();
    const outcome = await exchange(row, responseMs);
    const sent: SentAttempt = {
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - began),
      outcome,
    };
    ctx.heartbeat(sent);
    return record(key, sent, recordBy);
  };
}
