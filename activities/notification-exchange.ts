import { createHmac } from 'node:crypto';
import type { Config } from '../common/config';
import { checkUrl, policyLookup } from '../common/url-policy';
import type { NotificationAttemptResult } from '../contract/notification';
import { postRaw } from '../providers/http';

/** Receivers answer `success`; a few KiB is plenty to tell, and all we keep. */
const MAX_ANSWER_BYTES = 4 * 1024;

/** The connect timeout of a notification exchange whose answer may take `timeoutMs`. */
export const connectMsOf = (timeoutMs: number) => Math.min(timeoutMs, 5_000);

/** What one exchange gave; `excerpt` is the start of the answer's body. */
export type AttemptOutcome = NotificationAttemptResult & { excerpt?: string };

export interface NotificationRow {
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

/** One notification's HTTP exchange with its merchant, under the address policy. */
export function createExchange(config: Pick<Config, 'apps' | 'notifications'>) {
  const appOf = (appId: string) => config.apps.find((a) => a.appId === appId);

  /** The HTTP exchange of one attempt, or the address policy's refusal of it. */
  return async function exchange(row: NotificationRow, responseMs: number): Promise<AttemptOutcome> {
    const policy = config.notifications;
    const checked = checkUrl(row.url, policy);
    if (!checked.ok) return { success: false, error: `refused: ${checked.reason}` };
    const body = new URLSearchParams(row.payload).toString();
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-notification-id': row.notification_id,
    };
    const app = appOf(row.app_id);
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
      { connectMs: connectMsOf(policy.timeoutMs), responseMs },
      { maxBytes: MAX_ANSWER_BYTES, dnsLookup: policyLookup(policy) },
    );
    if (!answer.ok) return { success: false, error: answer.error };
    const is2xx = answer.status >= 200 && answer.status < 300;
    const success = is2xx && /^success$/i.test(answer.body);
    return {
      success,
      httpStatus: answer.status,
      excerpt: answer.body.slice(0, 256),
      ...(success
        ? {}
        : {
            error: is2xx
              ? `answer is not "success" (HTTP ${answer.status})`
              : `HTTP ${answer.status}: not a 2xx answer`,
          }),
    };
  };
}
