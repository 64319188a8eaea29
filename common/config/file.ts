import { isIP } from 'node:net';
import { z } from 'zod';
import { PAYBY, paybyOptionsSchema } from '../../providers/payby/options';
import { appId, mchNo, UNIFIED, unifiedOptionsSchema } from '../../providers/unified/options';
import { secretRef } from '../secret-ref';

/** The JSON file of the configuration contract: apps, provider accounts and the settings. */

const appSchema = z
  .object({
    mchNo,
    appId,
    key: secretRef,
    account: z.string().min(1),
    /** Optional Standard Webhooks secret (`whsec_<base64>`) for notification headers. */
    webhookSecret: secretRef.optional(),
    /**
     * A paid order (PayBy 62001/62003): `refuse` (state 3, ORDER_PAID), `revoke` (paid today in
     * `paidOrdersTimeZone`, not settled: revoke it), `revokeOrRefund` (also refund a settled or
     * older order in full). Seed 000: "the cancellation of the completed order on the same day".
     */
    paidOrders: z.enum(['refuse', 'revoke', 'revokeOrRefund']).default('refuse'),
    /** The time zone whose calendar day "the same day" means (IANA name). */
    paidOrdersTimeZone: z
      .string()
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-CA', { timeZone: tz });
          return true;
        } catch {
          return false;
        }
      }, 'must be an IANA time zone, e.g. "Asia/Dubai"')
      .default('UTC'),
  })
  .strict();

export type AppOptions = z.output<typeof appSchema>;

/** Each provider owns its account options (providers/<name>/options.ts); the file takes any of them. */
const accountSchema = z.discriminatedUnion('provider', [paybyOptionsSchema, unifiedOptionsSchema], {
  error: (issue) =>
    issue.code === 'invalid_union' ? `provider must be "${PAYBY}" or "${UNIFIED}"` : undefined,
});

const notificationsSchema = z
  .object({
    /** Hosts (exact names or `*.suffix`) and CIDR networks notifications may be sent to. */
    allowHosts: z.array(z.string().min(1)).default([]),
    /** Loopback and private addresses are refused unless this is set (development, tests). */
    allowPrivateNetworks: z.boolean().default(false),
    timeoutMs: z.number().int().positive().default(10_000),
  })
  .strict();

/** The shortest merchant wait accepted: below it no provider's first answer could ever be given. */
export const MIN_CANCEL_WAIT_MS = 100;

const apiSchema = z
  .object({
    /** Accepted distance of a request's `reqTime` from our clock, in seconds. */
    reqTimeWindowSeconds: z.number().int().positive().default(600),
    /** How long `/api/pay/cancel` waits for an accepted or terminal state before answering. */
    cancelWaitMs: z
      .number()
      .int()
      .min(MIN_CANCEL_WAIT_MS, {
        message: `at least ${MIN_CANCEL_WAIT_MS} ms: a shorter wait answers every merchant "ask again" before the provider can answer`,
      })
      .default(5_000),
    bodyLimitBytes: z
      .number()
      .int()
      .positive()
      .default(64 * 1024),
    /** Northbound requests per minute from one client address. */
    rateLimitPerMinute: z.number().int().positive().default(60_000),
    /**
     * Answers of `/api/cancel/query` for terminal cancellations (which never change) kept in the
     * API process: how many (0 = none) and for how long at most.
     */
    queryCacheEntries: z.number().int().nonnegative().default(10_000),
    queryCacheTtlSeconds: z.number().int().positive().default(60),
    /**
     * The /ops endpoints without a token, to anyone who reaches the API (a private network behind
     * other access control). Without it and without `CANCELFLOW_OPS_TOKEN`, /ops refuses everyone.
     */
    opsOpen: z.boolean().default(false),
  })
  .strict();

/** An IP address or a CIDR network (`10.0.0.0/8`, `fd00::/8`). */
const ipOrCidr = z.string().refine((v) => {
  const [address = '', bits, ...rest] = v.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}, 'must be an IP address or a CIDR network (e.g. 10.0.0.0/8)');

const httpSchema = z
  .object({
    /**
     * Fastify's `trustProxy`: whose `X-Forwarded-For` names the client (rate limits, logs).
     * false: nobody's; true: anyone's (only when every request comes through the proxy); a list:
     * proxies at these addresses or networks. (A hop count is not offered: Fastify 5 trusts nobody
     * with one, since it cannot check the immediate peer.)
     */
    trustProxy: z
      .union([z.boolean(), z.array(ipOrCidr).min(1)], {
        error: (issue) =>
          issue.code === 'invalid_union'
            ? 'must be true, false or a list of proxy IP addresses / CIDR networks'
            : undefined,
      })
      .default(false),
  })
  .strict();

const reconciliationSchema = z
  .object({
    /** Cron expression and IANA time zone of the nightly run. */
    cron: z.string().min(1).default('30 2 * * *'),
    timeZone: z.string().min(1).default('UTC'),
    /** Non-terminal cancellations older than this are re-examined by every run. */
    staleAfterHours: z.number().positive().default(24),
  })
  .strict();

/** Timings of the cancellations this process starts; production defaults when absent. */
const timingsSchema = z
  .object({
    pollInitialMs: z.number().int().positive(),
    pollMaxMs: z.number().int().positive(),
    pollMultiplier: z.number().min(1).max(10),
    deadlineMs: z.number().int().positive(),
    unresolvedHoldMs: z.number().int().nonnegative(),
    notificationScheduleMs: z.array(z.number().int().nonnegative()).min(1).max(20),
  })
  .partial()
  .strict();

/**
 * The worker's sizing; what is left out keeps worker/create-worker.ts WORKER_DEFAULTS (sized for a
 * 2-core machine). The SDK needs at least 2 concurrent workflow tasks.
 */
const workerSchema = z
  .object({
    maxCachedWorkflows: z.number().int().min(0).optional(),
    maxConcurrentWorkflowTaskExecutions: z.number().int().min(2).optional(),
    maxConcurrentActivityTaskExecutions: z.number().int().positive().optional(),
    maxConcurrentLocalActivityExecutions: z.number().int().positive().optional(),
    /** Activity slots a workflow task may reserve to run its new activities at once (0: off). */
    maxEagerActivityReservationsPerWorkflowTask: z.number().int().min(0).optional(),
    /** How the worker polls its task queues: `autoscaling`, or a fixed number of pollers. */
    pollers: z.union([z.literal('autoscaling'), z.number().int().min(2)]).optional(),
  })
  .strict();

// A section left out is the empty one, through its own defaults (prefault parses `{}`).
export const fileSchema = z
  .object({
    timings: timingsSchema.optional(),
    http: httpSchema.prefault({}),
    apps: z.array(appSchema).default([]),
    accounts: z.array(accountSchema).default([]),
    notifications: notificationsSchema.prefault({}),
    api: apiSchema.prefault({}),
    reconciliation: reconciliationSchema.prefault({}),
    worker: workerSchema.prefault({}),
  })
  .strict();

export type FileConfig = z.output<typeof fileSchema>;
