import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { notificationAttemptsTotal } from '../common/metrics';
import { checkUrl, policyLookup } from '../common/url-policy';
import { postRaw } from '../providers/http';
import { md5Sign } from '../providers/unified/sign';
import type { NotificationAttemptResult } from '../workflows/types';
import type { ActivityDeps } from './deps';

/** Receivers answer `success`; a few KiB is plenty to tell, and all we keep. */
const MAX_ANSWER_BYTES = 4 * 1024;

interface CancellationRow {
  cancel_order_id: string;
  workflow_id: string;
  mch_no: string;
  app_id: string;
  account_id: string;
  order_ref: string;
  pay_order_id: string | null;
  provider_order_no: string | null;
  notify_url: string | null;
  ext_param: string | null;
  amount_minor: number | null;
  currency: string | null;
  state: number;
  status: string;
  channel_order_no: string | null;
  err_code: string | null;
  err_msg: string | null;
  created_at: Date;
  success_time: Date | null;
}

interface NotificationRow {
  notification_id: string;
  cancel_order_id: string;
  app_id: string;
  url: string;
  payload: Record<string, string>;
  status: string;
  rounds: number;
}

/** Standard Webhooks signature: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`. */
export function standardWebhookSignature(
  secret: string,
  id: string,
  timestamp: number,
  body: string,
): string {
  const key = secret.startsWith('whsec_')
    ? Buffer.from(secret.slice(6), 'base64')
    : Buffer.from(secret, 'utf8');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export function notificationIdFor(cancelOrderId: string): string {
  return `ntf_${cancelOrderId}`;
}

/** Activities of the notification workflow: build the signed payload once, deliver, record. */
export function createNotificationActivities({ db, config, logger }: ActivityDeps) {
  const appOf = (mchNo: string | undefined, appId: string) =>
    config.apps.find((a) => a.appId === appId && (mchNo === undefined || a.mchNo === mchNo));

  return {
    /**
     * The notification of a terminal cancellation: seed 000's fields, `reqTime` and `sign` (MD5
     * with the app's key), built once and stored, so every attempt and every redelivery sends
     * the same signed bytes.
     */
    async prepareNotification(input: {
      cancelOrderId: string;
    }): Promise<{ notificationId: string; accountId: string; mchNo: string; orderRef: string }> {
      const row = await db('cancellations')
        .where({ cancel_order_id: input.cancelOrderId })
        .first<CancellationRow | undefined>();
      if (!row) throw ApplicationFailure.nonRetryable(`no cancellation ${input.cancelOrderId}`, 'NOT_FOUND');
      if (!row.notify_url)
        throw ApplicationFailure.nonRetryable(
          `cancellation ${input.cancelOrderId} has no notifyUrl`,
          'NO_NOTIFY_URL',
        );
      if (![2, 3, 4].includes(row.state))
        throw ApplicationFailure.nonRetryable(
          `cancellation ${input.cancelOrderId} is not terminal`,
          'NOT_TERMINAL',
        );
      const notificationId = notificationIdFor(row.cancel_order_id);
      const existing = await db('notifications')
        .where({ notification_id: notificationId })
        .first<{ notification_id: string } | undefined>('notification_id');
      if (!existing) {
        const app = appOf(row.mch_no, row.app_id);
        if (!app)
          throw ApplicationFailure.nonRetryable(
            `app ${row.mch_no}/${row.app_id} is not configured`,
            'UNKNOWN_APP',
          );
        const payload: Record<string, string> = {
          cancelOrderId: row.cancel_order_id,
          payOrderId: row.pay_order_id ?? row.provider_order_no ?? '',
          mchNo: row.mch_no,
          appId: row.app_id,
          payAmount: row.amount_minor === null ? '' : String(row.amount_minor),
          currency: row.currency ?? '',
          state: String(row.state),
          channelOrderNo: row.channel_order_no ?? '',
          errCode: row.err_code ?? '',
          errMsg: row.err_msg ?? '',
          extraParam: row.ext_param ?? '',
          createdAt: String(row.created_at.getTime()),
          successTime: row.success_time ? String(row.success_time.getTime()) : '',
          reqTime: String(Date.now()),
        };
        payload.sign = md5Sign(payload, app.key.reveal());
        await db('notifications')
          .insert({
            notification_id: notificationId,
            cancel_order_id: row.cancel_order_id,
            app_id: row.app_id,
            account_id: row.account_id,
            url: row.notify_url,
            payload: JSON.stringify(payload),
            status: 'pending',
          })
          .onConflict('notification_id')
          .ignore();
      }
      return { notificationId, accountId: row.account_id, mchNo: row.mch_no, orderRef: row.order_ref };
    },

    /** Starts a round for this workflow run (idempotent per run); returns its number. */
    async beginNotificationRound(input: { notificationId: string; runId: string }): Promise<number> {
      const updated = await db('notifications')
        .where({ notification_id: input.notificationId })
        .andWhereRaw('round_run_id is distinct from ?', [input.runId])
        .update({
          rounds: db.raw('case when round_run_id is null then rounds else rounds + 1 end'),
          round_run_id: input.runId,
          status: 'delivering',
          updated_at: db.fn.now(),
        })
        .returning('rounds');
      if (updated.length > 0) return (updated[0] as { rounds: number }).rounds;
      const row = await db('notifications')
        .where({ notification_id: input.notificationId })
        .first<{ rounds: number }>('rounds');
      return row.rounds;
    },

    /**
     * One attempt: an `application/x-www-form-urlencoded` POST of the stored payload. Success is a
     * body of exactly `success` in any letter case; anything else is a failed attempt. No retries
     * here: the workflow's schedule is the retry policy. An attempt already recorded (the activity
     * re-run after its result was lost) is answered from its row, not sent again.
     */
    async deliverNotificationAttempt(input: {
      notificationId: string;
      round: number;
      attemptNo: number;
    }): Promise<NotificationAttemptResult> {
      const key = { notification_id: input.notificationId, round: input.round, attempt_no: input.attemptNo };
      const done = await db('notification_attempts')
        .where(key)
        .first<{ success: boolean; http_status: number | null; error: string | null } | undefined>();
      if (done)
        return {
          success: done.success,
          ...(done.http_status !== null ? { httpStatus: done.http_status } : {}),
          ...(done.error ? { error: done.error } : {}),
        };
      const row = await db('notifications')
        .where({ notification_id: input.notificationId })
        .first<NotificationRow | undefined>();
      if (!row) throw ApplicationFailure.nonRetryable(`no notification ${input.notificationId}`, 'NOT_FOUND');

      const startedAt = new Date();
      const began = performance.now();
      const policy = config.notifications;
      const checked = checkUrl(row.url, policy);
      let result: NotificationAttemptResult & { excerpt?: string };
      if (!checked.ok) {
        result = { success: false, error: `refused: ${checked.reason}` };
      } else {
        const body = new URLSearchParams(row.payload).toString();
        const headers: Record<string, string> = {
          'content-type': 'application/x-www-form-urlencoded',
          'x-notification-id': row.notification_id,
        };
        const app = appOf(undefined, row.app_id);
        if (app?.webhookSecret) {
          const timestamp = Math.floor(Date.now() / 1000);
          headers['webhook-id'] = row.notification_id;
          headers['webhook-timestamp'] = String(timestamp);
          headers['webhook-signature'] = standardWebhookSignature(
            app.webhookSecret.reveal(),
            row.notification_id,
            timestamp,
            body,
          );
        }
        const answer = await postRaw(
          checked.url.toString(),
          headers,
          body,
          { connectMs: Math.min(policy.timeoutMs, 5_000), responseMs: policy.timeoutMs },
          { maxBytes: MAX_ANSWER_BYTES, dnsLookup: policyLookup(policy) },
        );
        const success = answer.ok && /^success$/i.test(answer.body);
        result = answer.ok
          ? {
              success,
              httpStatus: answer.status,
              excerpt: answer.body.slice(0, 256),
              ...(success ? {} : { error: `answer is not "success" (HTTP ${answer.status})` }),
            }
          : { success: false, error: answer.error };
      }
      const durationMs = Math.round(performance.now() - began);
      await db.transaction(async (trx) => {
        const inserted = await trx('notification_attempts')
          .insert({
            ...key,
            started_at: startedAt,
            success: result.success,
            http_status: result.httpStatus ?? null,
            body_excerpt: result.excerpt ?? null,
            error: result.error?.slice(0, 512) ?? null,
            duration_ms: durationMs,
          })
          .onConflict(['notification_id', 'round', 'attempt_no'])
          .ignore()
          .returning('id');
        if (inserted.length > 0)
          await trx('notifications')
            .where({ notification_id: input.notificationId })
            .update({
              attempts: trx.raw('attempts + 1'),
              last_attempt_at: startedAt,
              updated_at: trx.fn.now(),
            });
      });
      notificationAttemptsTotal.labels(result.success ? 'success' : 'failure').inc();
      logger.info(
        {
          notificationId: input.notificationId,
          round: input.round,
          attempt: input.attemptNo,
          success: result.success,
        },
        'notification attempt',
      );
      return {
        success: result.success,
        ...(result.httpStatus !== undefined ? { httpStatus: result.httpStatus } : {}),
        ...(result.error ? { error: result.error } : {}),
      };
    },

    async finishNotificationRound(input: {
      notificationId: string;
      round: number;
      delivered: boolean;
    }): Promise<void> {
      await db('notifications')
        .where({ notification_id: input.notificationId, rounds: input.round })
        .update({
          status: input.delivered ? 'delivered' : 'failed',
          ...(input.delivered ? { delivered_at: db.fn.now() } : {}),
          updated_at: db.fn.now(),
        });
    },
  };
}
