import { accountTimeouts } from '../../providers/options';
import { notificationAttemptTimeoutMs, providerCallTimeoutMs } from '../../workflows/activity-options';
import type { ConfigIssue } from '../errors';
import type { FileConfig } from './file';

/**
 * What an activity needs besides its HTTP exchange: the exchange's audit row (bounded in
 * activities/adapters.ts to a few seconds), the activity's other database work and some slack.
 */
export const ACTIVITY_HEADROOM_MS = 10_000;

/**
 * HTTP timeouts that would outlast the activity making the request: Temporal would time the
 * activity out first, and an answer that arrived would be lost (a known outcome turned unknown).
 */
export function timeoutIssues(file: FileConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const providerMax = providerCallTimeoutMs - ACTIVITY_HEADROOM_MS;
  file.accounts.forEach((a, i) => {
    const { connectMs, responseMs } = accountTimeouts(a);
    if (connectMs + responseMs <= providerMax) return;
    const field = a.responseTimeoutMs !== undefined ? 'responseTimeoutMs' : 'connectTimeoutMs';
    issues.push({
      path: `accounts[${i}].${field}`,
      message:
        `connectTimeoutMs + responseTimeoutMs is ${connectMs + responseMs} ms; at most ${providerMax} ms fits ` +
        `the provider activities' ${providerCallTimeoutMs} ms timeout (${ACTIVITY_HEADROOM_MS} ms kept for ` +
        `recording the exchange)`,
    });
  });
  const notificationMax = notificationAttemptTimeoutMs - ACTIVITY_HEADROOM_MS;
  if (file.notifications.timeoutMs > notificationMax) {
    issues.push({
      path: 'notifications.timeoutMs',
      message:
        `${file.notifications.timeoutMs} ms; at most ${notificationMax} ms fits the notification attempt's ` +
        `${notificationAttemptTimeoutMs} ms timeout (${ACTIVITY_HEADROOM_MS} ms kept for connecting and ` +
        `recording the attempt)`,
    });
  }
  return issues;
}
