/** Notification attempt bookkeeping: the attempt rows, their once-only final write, the time kept for it. */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { notificationAttemptsTotal } from '../common/metrics';
import type { NotificationAttemptResult } from '../contract/notification';
import type { ActivityDeps } from './deps';
import type { AttemptOutcome } from './notification-exchange';

/** Time kept back from an attempt's start-to-close timeout to fail it cleanly, result heartbeated. */
export const RECORD_MARGIN_MS = 5_000;

export interface AttemptKey {
  notification_id: string;
  round: number;
  attempt_no: number;
}

/** `sending` is written before the request; `done` and `unknown` are final (see the migration). */
export interface AttemptRow {
  state: 'sending' | 'done' | 'unknown';
  started_at: Date;
  success: boolean | null;
  http_status: number | null;
  error: string | null;
}

/** The columns that finish a `sending` attempt. */
interface AttemptFinish {
  state: 'done' | 'unknown';
  success: boolean;
  error: string | null;
  http_status?: number | null;
  body_excerpt?: string | null;
  duration_ms?: number;
}

/** An exchange that happened, as heartbeated: enough for a later run to record it. */
export interface SentAttempt {
  startedAt: string;
  durationMs: number;
  outcome: AttemptOutcome;
}

export function resultOf(
  row: Pick<AttemptRow, 'success' | 'http_status' | 'error'>,
): NotificationAttemptResult {
  return {
    success: row.success === true,
    ...(row.http_status !== null ? { httpStatus: row.http_status } : {}),
    ...(row.error ? { error: row.error } : {}),
  };
}

/** The final writes of attempt rows: `record` (an exchange's result) and `finishAttempt`. */
export function createAttemptRecorder({ db, logger }: Pick<ActivityDeps, 'db' | 'logger'>) {
  /**
   * Writes the exchange's result, retrying until `recordBy` (a `performance.now()` instant); past
   * it, a retryable failure hands the job to the activity's next run.
   */
  async function record(
    key: AttemptKey,
    sent: SentAttempt,
    recordBy: number,
  ): Promise<NotificationAttemptResult> {
    const { outcome } = sent;
    const fields: AttemptFinish = {
      state: 'done',
      success: outcome.success,
      http_status: outcome.httpStatus ?? null,
      body_excerpt: outcome.excerpt ?? null,
      error: outcome.error?.slice(0, 512) ?? null,
      duration_ms: sent.durationMs,
    };
    for (let pause = 100; ; pause = Math.min(pause * 2, 2_000)) {
      try {
        return await finishAttempt(key, new Date(sent.startedAt), fields);
      } catch (err) {
        if (performance.now() + pause > recordBy)
          throw ApplicationFailure.create({
            message: `attempt ${key.round}.${key.attempt_no} of ${key.notification_id} is not recorded yet`,
            type: 'ATTEMPT_NOT_RECORDED',
            ...(err instanceof Error ? { cause: err } : {}),
          });
        logger.warn({ ...key, err }, 'notification attempt not recorded yet, retrying');
      }
      await Context.current().sleep(pause);
    }
  }

  /**
   * Moves a `sending` attempt to its final state and counts it, once: if another run finished it
   * first, that run's result stands.
   */
  async function finishAttempt(
    key: AttemptKey,
    startedAt: Date,
    fields: AttemptFinish,
  ): Promise<NotificationAttemptResult> {
    // One statement, so one round trip (it was a transaction of four): the attempt is finished
    // only from `sending`, and the notification's count moves only if this statement finished it.
    // A concurrent finisher waits on the row lock, then finds it no longer `sending`.
    const finishing = db('notification_attempts')
      .where({ ...key, state: 'sending' })
      .update(fields)
      .returning('id')
      .toSQL();
    const { rows } = await db.raw<{ rows: Array<{ finished: number }> }>(
      `with finished as (${finishing.sql}),
       counted as (
         update notifications set attempts = attempts + 1, last_attempt_at = ?, updated_at = now()
         where notification_id = ? and exists (select 1 from finished)
       )
       select count(*)::int as finished from finished`,
      [...finishing.bindings, startedAt, key.notification_id],
    );
    const finished = rows[0]!.finished > 0;
    if (!finished) return resultOf(await db('notification_attempts').where(key).first<AttemptRow>());
    notificationAttemptsTotal.labels(fields.success ? 'success' : 'failure').inc();
    logger.info(
      {
        notificationId: key.notification_id,
        round: key.round,
        attempt: key.attempt_no,
        state: fields.state,
        success: fields.success,
      },
      'notification attempt',
    );
    return resultOf({
      success: fields.success,
      http_status: fields.http_status ?? null,
      error: fields.error,
    });
  }

  return { record, finishAttempt };
}
