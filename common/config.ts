import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_TIMEOUTS } from '../providers/http';
import { notificationAttemptTimeoutMs, providerCallTimeoutMs } from '../workflows/activity-options';
import { ConfigError, type ConfigIssue } from './errors';
import { Secret } from './secret';

/**
 * The configuration contract of ARCHITECTURE.md: environment variables plus one JSON file.
 * Parsed and validated once at start (`loadConfig`), then passed down; nothing else reads
 * `process.env`. A bad file is refused with the path of every bad field and the reason.
 */

const secretRef = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
  z.string().min(1, 'must not be empty'),
]);
type SecretRef = z.infer<typeof secretRef>;

const mchNo = z.string().min(1).max(30);
const appId = z.string().min(1).max(24);
const httpUrl = z.string().refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), 'must be an http(s) URL');

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

/** HTTP timeouts towards the provider (defaults: 5 s to connect, 20 s for the answer). */
const timeoutFields = {
  connectTimeoutMs: z.number().int().positive().max(60_000).optional(),
  responseTimeoutMs: z.number().int().positive().max(120_000).optional(),
};

const paybyAccountSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 letters, digits, _ or -'),
    provider: z.literal('payby'),
    baseUrl: httpUrl,
    partnerId: z.string().regex(/^\d{1,12}$/, 'must be 1-12 digits'),
    privateKey: secretRef,
    providerPublicKey: secretRef,
    /** Requests per second this account may send to the provider during reconciliation. */
    rateLimitPerSecond: z.number().positive().optional(),
    ...timeoutFields,
  })
  .strict();

const unifiedAccountSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1-40 letters, digits, _ or -'),
    provider: z.literal('unified'),
    baseUrl: httpUrl,
    mchNo,
    appId,
    key: secretRef,
    rateLimitPerSecond: z.number().positive().optional(),
    ...timeoutFields,
  })
  .strict();

const accountSchema = z.discriminatedUnion('provider', [paybyAccountSchema, unifiedAccountSchema], {
  error: (issue) => (issue.code === 'invalid_union' ? 'provider must be "payby" or "unified"' : undefined),
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

const apiSchema = z
  .object({
    /** Accepted distance of a request's `reqTime` from our clock, in seconds. */
    reqTimeWindowSeconds: z.number().int().positive().default(600),
    /** How long `/api/pay/cancel` waits for an accepted or terminal state before answering. */
    cancelWaitMs: z.number().int().nonnegative().default(5_000),
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

const fileSchema = z
  .object({
    timings: timingsSchema.optional(),
    http: httpSchema.default({ trustProxy: false }),
    apps: z.array(appSchema).default([]),
    accounts: z.array(accountSchema).default([]),
    notifications: notificationsSchema.default({
      allowHosts: [],
      allowPrivateNetworks: false,
      timeoutMs: 10_000,
    }),
    api: apiSchema.default({
      reqTimeWindowSeconds: 600,
      cancelWaitMs: 5_000,
      bodyLimitBytes: 65536,
      rateLimitPerMinute: 60_000,
      queryCacheEntries: 10_000,
      queryCacheTtlSeconds: 60,
      opsOpen: false,
    }),
    reconciliation: reconciliationSchema.default({
      cron: '30 2 * * *',
      timeZone: 'UTC',
      staleAfterHours: 24,
    }),
  })
  .strict();

const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\//.test(v), 'must be a postgres:// URL')
    .optional(),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[^\s:/]+:\d{1,5}$/, 'must be host:port')
    .default('localhost:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_TLS: z.enum(['true', 'false']).default('false'),
  CANCELFLOW_TASK_QUEUE: z.string().min(1).default('cancellations'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  /** Loopback unless told: `0.0.0.0` (or an interface address) exposes the API. */
  HOST: z.string().min(1).default('127.0.0.1'),
  PUBLIC_BASE_URL: httpUrl.optional(),
  CANCELFLOW_CONFIG: z.string().min(1).default('./cancelflow.config.json'),
  /** The worker's /metrics address and port (0 = off), and the Temporal SDK exporter's loopback port. */
  CANCELFLOW_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  CANCELFLOW_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  CANCELFLOW_SDK_METRICS_PORT: z.coerce.number().int().min(1).max(65535).default(9465),
  /** Bearer token for the /ops endpoints; unset: they refuse everyone unless `api.opsOpen`. */
  CANCELFLOW_OPS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface AppConfig {
  mchNo: string;
  appId: string;
  key: Secret;
  account: string;
  webhookSecret?: Secret;
  paidOrders: 'refuse' | 'revoke' | 'revokeOrRefund';
  paidOrdersTimeZone: string;
}

export interface PaybyAccount {
  id: string;
  provider: 'payby';
  baseUrl: string;
  partnerId: string;
  privateKey: Secret;
  providerPublicKey: Secret;
  rateLimitPerSecond?: number;
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
}

export interface UnifiedAccount {
  id: string;
  provider: 'unified';
  baseUrl: string;
  mchNo: string;
  appId: string;
  key: Secret;
  rateLimitPerSecond?: number;
  connectTimeoutMs?: number;
  responseTimeoutMs?: number;
}

export type AccountConfig = PaybyAccount | UnifiedAccount;
export type ProviderName = AccountConfig['provider'];

export interface Config {
  databaseUrl?: string;
  temporal: { address: string; namespace: string; apiKey?: Secret; tls: boolean; taskQueue: string };
  http: {
    host: string;
    port: number;
    publicBaseUrl: string;
    /** PUBLIC_BASE_URL was not set: `publicBaseUrl` is this host's loopback address. */
    publicBaseUrlIsDefault: boolean;
    opsToken?: Secret;
    trustProxy: z.infer<typeof httpSchema>['trustProxy'];
  };
  metrics: { host: string; port: number; sdkPort: number };
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  configPath: string;
  apps: AppConfig[];
  accounts: AccountConfig[];
  notifications: z.infer<typeof notificationsSchema>;
  api: z.infer<typeof apiSchema>;
  reconciliation: z.infer<typeof reconciliationSchema>;
  timings?: z.infer<typeof timingsSchema>;
}

function formatPath(segments: readonly PropertyKey[]): string {
  return segments
    .map((s, i) => (typeof s === 'number' ? `[${s}]` : `${i === 0 ? '' : '.'}${String(s)}`))
    .join('');
}

function zodIssues(error: z.ZodError, prefix = ''): ConfigIssue[] {
  return error.issues.map((issue) => ({
    path: prefix + formatPath(issue.path),
    message: issue.message,
  }));
}

interface SecretContext {
  env: NodeJS.ProcessEnv;
  baseDir: string;
  issues: ConfigIssue[];
}

function resolveSecret(ref: SecretRef, at: string, ctx: SecretContext): Secret | undefined {
  if (typeof ref === 'string') return new Secret(ref);
  if ('env' in ref) {
    const value = ctx.env[ref.env];
    if (value === undefined || value === '') {
      ctx.issues.push({ path: at, message: `environment variable ${ref.env} is not set` });
      return undefined;
    }
    return new Secret(value);
  }
  const file = path.resolve(ctx.baseDir, ref.file);
  try {
    return new Secret(readFileSync(file, 'utf8'));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    ctx.issues.push({ path: at, message: `cannot read secret file ${file} (${reason})` });
    return undefined;
  }
}

function checkPem(
  secret: Secret | undefined,
  kind: 'private' | 'public',
  at: string,
  ctx: SecretContext,
): void {
  if (!secret) return;
  try {
    const key = kind === 'private' ? createPrivateKey(secret.reveal()) : createPublicKey(secret.reveal());
    if (key.asymmetricKeyType !== 'rsa') {
      ctx.issues.push({ path: at, message: `must be an RSA key, got ${key.asymmetricKeyType}` });
    }
  } catch {
    // The parser's message may quote key material: say only what is wrong.
    ctx.issues.push({ path: at, message: `is not a valid PEM ${kind} key` });
  }
}

/**
 * What an activity needs besides its HTTP exchange: the exchange's audit row (bounded in
 * activities/adapters.ts to a few seconds), the activity's other database work and some slack.
 */
export const ACTIVITY_HEADROOM_MS = 10_000;

/**
 * HTTP timeouts that would outlast the activity making the request: Temporal would time the
 * activity out first, and an answer that arrived would be lost (a known outcome turned unknown).
 */
function timeoutIssues(file: z.infer<typeof fileSchema>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const providerMax = providerCallTimeoutMs - ACTIVITY_HEADROOM_MS;
  file.accounts.forEach((a, i) => {
    const connectMs = a.connectTimeoutMs ?? DEFAULT_TIMEOUTS.connectMs;
    const responseMs = a.responseTimeoutMs ?? DEFAULT_TIMEOUTS.responseMs;
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

/**
 * Settings that start but are probably not what production wants, for the processes to log
 * loudly at start (the worker and the API both call this).
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const unified = config.accounts.filter((a) => a.provider === 'unified').map((a) => a.id);
  if (unified.length > 0 && config.http.publicBaseUrlIsDefault) {
    warnings.push(
      `PUBLIC_BASE_URL is not set: the Unified gateway account(s) ${unified.join(', ')} will be told to send ` +
        `their cancel notifications to ${config.http.publicBaseUrl}, which no gateway can reach; ` +
        'set PUBLIC_BASE_URL to the address the gateway reaches this API at',
    );
  }
  return warnings;
}

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Used when the config file does not exist (development defaults). */
  allowMissingFile?: boolean;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const parsedEnv = envSchema.safeParse(env);
  if (!parsedEnv.success) throw new ConfigError('environment', zodIssues(parsedEnv.error));
  const e = parsedEnv.data;

  const configPath = path.resolve(e.CANCELFLOW_CONFIG);
  let raw: unknown = {};
  let text: string | undefined;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!(code === 'ENOENT' && options.allowMissingFile)) {
      throw new ConfigError(configPath, [
        { path: '', message: `cannot read the file (${code ?? 'error'}); set CANCELFLOW_CONFIG` },
      ]);
    }
  }
  if (text !== undefined) {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(configPath, [
        { path: '', message: `is not valid JSON: ${(err as Error).message}` },
      ]);
    }
  }
  return parseConfigDocument(raw, { env, source: configPath, envValues: e });
}

function parseConfigDocument(
  raw: unknown,
  {
    env,
    source,
    envValues: e,
  }: { env: NodeJS.ProcessEnv; source: string; envValues: z.infer<typeof envSchema> },
): Config {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(source, zodIssues(parsed.error));
  const file = parsed.data;

  const ctx: SecretContext = { env, baseDir: path.dirname(source), issues: [] };

  const accounts: AccountConfig[] = [];
  const accountIds = new Set<string>();
  file.accounts.forEach((a, i) => {
    const at = `accounts[${i}]`;
    if (accountIds.has(a.id))
      ctx.issues.push({ path: `${at}.id`, message: `duplicate account id "${a.id}"` });
    accountIds.add(a.id);
    if (a.provider === 'payby') {
      const privateKey = resolveSecret(a.privateKey, `${at}.privateKey`, ctx);
      const providerPublicKey = resolveSecret(a.providerPublicKey, `${at}.providerPublicKey`, ctx);
      checkPem(privateKey, 'private', `${at}.privateKey`, ctx);
      checkPem(providerPublicKey, 'public', `${at}.providerPublicKey`, ctx);
      if (privateKey && providerPublicKey) {
        accounts.push({ ...a, privateKey, providerPublicKey });
      }
    } else {
      const key = resolveSecret(a.key, `${at}.key`, ctx);
      if (key) accounts.push({ ...a, key });
    }
  });

  const apps: AppConfig[] = [];
  const appKeys = new Set<string>();
  file.apps.forEach((a, i) => {
    const at = `apps[${i}]`;
    if (!accountIds.has(a.account)) {
      ctx.issues.push({ path: `${at}.account`, message: `no account with id "${a.account}"` });
    }
    if (appKeys.has(a.appId))
      ctx.issues.push({ path: `${at}.appId`, message: `duplicate appId "${a.appId}"` });
    appKeys.add(a.appId);
    const key = resolveSecret(a.key, `${at}.key`, ctx);
    const webhookSecret = a.webhookSecret
      ? resolveSecret(a.webhookSecret, `${at}.webhookSecret`, ctx)
      : undefined;
    if (webhookSecret && !/^whsec_[A-Za-z0-9+/=]+$/.test(webhookSecret.reveal())) {
      ctx.issues.push({ path: `${at}.webhookSecret`, message: 'must look like whsec_<base64>' });
    }
    if (key)
      apps.push({
        mchNo: a.mchNo,
        appId: a.appId,
        account: a.account,
        key,
        ...(webhookSecret ? { webhookSecret } : {}),
        paidOrders: a.paidOrders,
        paidOrdersTimeZone: a.paidOrdersTimeZone,
      });
  });

  ctx.issues.push(...timeoutIssues(file));
  if (ctx.issues.length > 0) throw new ConfigError(source, ctx.issues);

  return {
    ...(e.DATABASE_URL ? { databaseUrl: e.DATABASE_URL } : {}),
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      namespace: e.TEMPORAL_NAMESPACE,
      ...(e.TEMPORAL_API_KEY ? { apiKey: new Secret(e.TEMPORAL_API_KEY) } : {}),
      tls: e.TEMPORAL_TLS === 'true',
      taskQueue: e.CANCELFLOW_TASK_QUEUE,
    },
    http: {
      host: e.HOST,
      port: e.PORT,
      publicBaseUrl: e.PUBLIC_BASE_URL ?? `http://127.0.0.1:${e.PORT}`,
      publicBaseUrlIsDefault: e.PUBLIC_BASE_URL === undefined,
      ...(e.CANCELFLOW_OPS_TOKEN ? { opsToken: new Secret(e.CANCELFLOW_OPS_TOKEN) } : {}),
      trustProxy: file.http.trustProxy,
    },
    metrics: {
      host: e.CANCELFLOW_METRICS_HOST,
      port: e.CANCELFLOW_METRICS_PORT,
      sdkPort: e.CANCELFLOW_SDK_METRICS_PORT,
    },
    logLevel: e.LOG_LEVEL,
    configPath: source,
    apps,
    accounts,
    notifications: file.notifications,
    api: file.api,
    reconciliation: file.reconciliation,
    ...(file.timings ? { timings: file.timings } : {}),
  };
}
