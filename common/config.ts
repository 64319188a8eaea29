import { existsSync, readFileSync } from 'node:fs';
import { devDatabaseUrl } from './dev-stack';
import path from 'node:path';
import type { z } from 'zod';
import type { PaybyAccount } from '../providers/payby/options';
import type { UnifiedAccount } from '../providers/unified/options';
import { envSchema, type EnvValues } from './config/env';
import { fileSchema, type AppOptions, type FileConfig } from './config/file';
import { checkPem, resolveSecret, type SecretContext } from './config/secrets';
import { timeoutIssues } from './config/timeouts';
import { ConfigError, type ConfigIssue } from './errors';
import { Secret } from './secret';
import type { WithSecrets } from './secret-ref';

/**
 * The configuration contract of ARCHITECTURE.md: environment variables (config/env.ts) plus one
 * JSON file (config/file.ts, which composes each provider's account options). Parsed and validated
 * once at start (`loadConfig`), then passed down; nothing else reads `process.env`. A bad file is
 * refused with the path of every bad field and the reason.
 */

export { ConfigError } from './errors';
export { ACTIVITY_HEADROOM_MS } from './config/timeouts';
export type { PaybyAccount, UnifiedAccount };

/** A calling app (seed 000's mchNo + appId) with its key resolved, and the account it is routed to. */
export type AppConfig = WithSecrets<AppOptions, 'key' | 'webhookSecret'>;
export type AccountConfig = PaybyAccount | UnifiedAccount;
export type ProviderName = AccountConfig['provider'];

export interface Config {
  databaseUrl?: string;
  /** Development only: the dev stack's database, for one-off commands when DATABASE_URL is unset. */
  devDatabaseUrl: string;
  temporal: { address: string; namespace: string; apiKey?: Secret; tls: boolean; taskQueue: string };
  http: {
    host: string;
    port: number;
    publicBaseUrl: string;
    /** PUBLIC_BASE_URL was not set: `publicBaseUrl` is this host's loopback address. */
    publicBaseUrlIsDefault: boolean;
    opsToken?: Secret;
    trustProxy: FileConfig['http']['trustProxy'];
  };
  metrics: { host: string; port: number; sdkPort: number };
  logLevel: EnvValues['LOG_LEVEL'];
  /** NO_COLOR is set and not empty (no-color.org): the CLI's tables are plain. */
  noColor: boolean;
  configPath: string;
  apps: AppConfig[];
  accounts: AccountConfig[];
  notifications: FileConfig['notifications'];
  api: FileConfig['api'];
  reconciliation: FileConfig['reconciliation'];
  /** The worker's sizing overrides (only what the file sets). */
  worker: FileConfig['worker'];
  /** CANCELFLOW_BENCH_WORKFLOWS=1: the worker bundles the benchmark's workflows too. */
  benchWorkflows: boolean;
  /** CANCELFLOW_WORKFLOW_BUNDLE: the worker loads this prebuilt bundle (absolute path). */
  workflowBundlePath?: string;
  timings?: FileConfig['timings'];
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
  const envIssues = bundleIssues(e);
  if (envIssues.length > 0) throw new ConfigError('environment', envIssues);

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

/** CANCELFLOW_WORKFLOW_BUNDLE: a file that is there, and not together with the bench workflows. */
function bundleIssues(e: EnvValues): ConfigIssue[] {
  if (e.CANCELFLOW_WORKFLOW_BUNDLE === undefined) return [];
  const at = 'CANCELFLOW_WORKFLOW_BUNDLE';
  if (e.CANCELFLOW_BENCH_WORKFLOWS === '1')
    return [{ path: at, message: 'a prebuilt bundle holds no bench workflows: set one of the two' }];
  const resolved = path.resolve(e.CANCELFLOW_WORKFLOW_BUNDLE);
  return existsSync(resolved)
    ? []
    : [{ path: at, message: `no file at ${resolved} (npm run bundle writes one)` }];
}

function parseConfigDocument(
  raw: unknown,
  { env, source, envValues: e }: { env: NodeJS.ProcessEnv; source: string; envValues: EnvValues },
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
    devDatabaseUrl: devDatabaseUrl(e.CANCELFLOW_PG_PORT),
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
    noColor: (e.NO_COLOR ?? '') !== '',
    configPath: source,
    apps,
    accounts,
    notifications: file.notifications,
    api: file.api,
    reconciliation: file.reconciliation,
    worker: file.worker,
    benchWorkflows: e.CANCELFLOW_BENCH_WORKFLOWS === '1',
    ...(e.CANCELFLOW_WORKFLOW_BUNDLE
      ? { workflowBundlePath: path.resolve(e.CANCELFLOW_WORKFLOW_BUNDLE) }
      : {}),
    ...(file.timings ? { timings: file.timings } : {}),
  };
}
