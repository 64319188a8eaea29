import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { configWarnings, loadConfig, type Config } from '../../common/config';
import { ConfigError } from '../../common/errors';
import { WORKER_DEFAULTS, workerOverrides } from '../../worker/create-worker';
import {
  notificationAttempt,
  notificationAttemptTimeoutMs,
  providerCallTimeoutMs,
  providerQuery,
  providerSubmit,
} from '../../workflows/activity-options';

const KEYS = path.resolve(__dirname, '..', 'fixtures', 'keys');
const APP_KEY = 'app-key-that-must-never-print';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cf-config-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function validDocument(): Record<string, any> {
  return {
    apps: [
      {
        mchNo: 'M1623984572',
        appId: '60cc09bce4b0f1c0b83761c9',
        key: { env: 'APP_KEY' },
        account: 'payby-ae',
      },
    ],
    accounts: [
      {
        id: 'payby-ae',
        provider: 'payby',
        baseUrl: 'https://uat.test2pay.com/sgs/api',
        partnerId: '200000000888',
        privateKey: { file: path.join(KEYS, 'merchant-private.pem') },
        providerPublicKey: { file: path.join(KEYS, 'provider-public.pem') },
      },
      {
        id: 'hk-gw',
        provider: 'unified',
        baseUrl: 'https://gateway.example',
        mchNo: 'M1621873433953',
        appId: '60cc09bce4b0f1c0b83761c9',
        key: 'literal-dev-key',
      },
    ],
  };
}

let counter = 0;
function load(document: unknown, env: Record<string, string> = { APP_KEY }): Config {
  const file = path.join(dir, `config-${counter++}.json`);
  writeFileSync(file, typeof document === 'string' ? document : JSON.stringify(document));
  return loadConfig({ env: { CANCELFLOW_CONFIG: file, ...env } });
}

function issuesOf(fn: () => unknown): Array<{ path: string; message: string }> {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  test('a valid file resolves env, file and literal secrets and applies the environment defaults', () => {
    const config = load(validDocument());
    expect(config.temporal).toMatchObject({
      address: 'localhost:7233',
      namespace: 'default',
      taskQueue: 'cancellations',
    });
    expect(config.http.port).toBe(8080);
    expect(config.apps[0]!.key.reveal()).toBe(APP_KEY);
    const payby = config.accounts[0]!;
    expect(payby.provider).toBe('payby');
    if (payby.provider !== 'payby') throw new Error('unreachable');
    expect(payby.privateKey.reveal()).toBe(readFileSync(path.join(KEYS, 'merchant-private.pem'), 'utf8'));
    const unified = config.accounts[1]!;
    if (unified.provider !== 'unified') throw new Error('unreachable');
    expect(unified.key.reveal()).toBe('literal-dev-key');
  });

  test('secrets never appear when the config is serialised or inspected', () => {
    const config = load(validDocument());
    const printed = JSON.stringify(config) + inspect(config, { depth: 10 }) + String(config.apps[0]!.key);
    expect(printed).not.toContain(APP_KEY);
    expect(printed).not.toContain('literal-dev-key');
    expect(printed).not.toContain('PRIVATE KEY');
    expect(printed).toContain('[redacted]');
  });

  interface BrokenCase {
    name: string;
    mutate: (d: Record<string, any>) => void;
    field: string;
    reason: RegExp;
    env?: Record<string, string>;
  }
  const broken: BrokenCase[] = [
    {
      name: 'an env secret whose variable is unset',
      mutate: () => undefined,
      field: 'apps[0].key',
      reason: /environment variable APP_KEY is not set/,
      env: {},
    },
    {
      name: 'a missing key file',
      mutate: (d) => (d.accounts[0].privateKey = { file: '/nonexistent/key.pem' }),
      field: 'accounts[0].privateKey',
      reason: /cannot read secret file .*ENOENT/,
    },
    {
      name: 'a key that is not PEM',
      mutate: (d) => (d.accounts[0].privateKey = 'SECRETMATERIAL'),
      field: 'accounts[0].privateKey',
      reason: /not a valid PEM private key/,
    },
    {
      name: 'a public key where a private key belongs',
      mutate: (d) => (d.accounts[0].privateKey = { file: path.join(KEYS, 'merchant-public.pem') }),
      field: 'accounts[0].privateKey',
      reason: /not a valid PEM private key/,
    },
    {
      name: 'an unknown provider',
      mutate: (d) => (d.accounts[1].provider = 'stripe'),
      field: 'accounts[1].provider',
      reason: /provider must be "payby" or "unified"/,
    },
    {
      name: 'a base URL that is not http(s)',
      mutate: (d) => (d.accounts[0].baseUrl = 'ftp://x'),
      field: 'accounts[0].baseUrl',
      reason: /http\(s\) URL/,
    },
    {
      name: 'a partner id with letters',
      mutate: (d) => (d.accounts[0].partnerId = 'abc'),
      field: 'accounts[0].partnerId',
      reason: /1-12 digits/,
    },
    {
      name: 'an app pointing at no account',
      mutate: (d) => (d.apps[0].account = 'nope'),
      field: 'apps[0].account',
      reason: /no account with id "nope"/,
    },
    {
      name: 'a duplicate account id',
      mutate: (d) => (d.accounts[1].id = 'payby-ae'),
      field: 'accounts[1].id',
      reason: /duplicate account id/,
    },
    {
      name: 'a misspelt field',
      mutate: (d) => (d.apps[0].keyy = 'x'),
      field: 'apps[0]',
      reason: /Unrecognized key: "keyy"/,
    },
    {
      name: 'a missing required field',
      mutate: (d) => delete d.apps[0].mchNo,
      field: 'apps[0].mchNo',
      reason: /expected string/,
    },
    {
      name: 'an appId longer than seed 000 allows',
      mutate: (d) => (d.apps[0].appId = 'x'.repeat(25)),
      field: 'apps[0].appId',
      reason: /<=24/,
    },
    {
      name: 'a secret reference with two sources',
      mutate: (d) => (d.apps[0].key = { env: 'A', file: 'b' }),
      field: 'apps[0].key',
      reason: /./,
    },
    {
      name: 'accounts that is not a list',
      mutate: (d) => (d.accounts = {}),
      field: 'accounts',
      reason: /expected array/,
    },
    {
      name: 'provider HTTP timeouts that would outlast the provider activities',
      mutate: (d) => (d.accounts[1].responseTimeoutMs = 40_000),
      field: 'accounts[1].responseTimeoutMs',
      reason: /is 45000 ms; at most 35000 ms fits the provider activities' 45000 ms timeout/,
    },
    {
      name: 'a connect timeout that leaves the default response timeout no room',
      mutate: (d) => (d.accounts[0].connectTimeoutMs = 20_000),
      field: 'accounts[0].connectTimeoutMs',
      reason: /is 40000 ms; at most 35000 ms fits/,
    },
    {
      name: 'a notification timeout that would outlast the notification attempt',
      mutate: (d) => (d.notifications = { timeoutMs: 30_000 }),
      field: 'notifications.timeoutMs',
      reason: /at most 20000 ms fits the notification attempt's 30000 ms timeout/,
    },
    {
      name: 'a trustProxy that is a hop count',
      mutate: (d) => (d.http = { trustProxy: 2 }),
      field: 'http.trustProxy',
      reason: /true, false or a list of proxy IP addresses/,
    },
    {
      name: 'a trustProxy entry that is not an address or network',
      mutate: (d) => (d.http = { trustProxy: ['10.0.0.0/8', 'proxy.internal'] }),
      field: 'http.trustProxy[1]',
      reason: /IP address or a CIDR network/,
    },
    {
      name: 'a trustProxy network with a prefix too long',
      mutate: (d) => (d.http = { trustProxy: ['10.0.0.0/33'] }),
      field: 'http.trustProxy[0]',
      reason: /IP address or a CIDR network/,
    },
    {
      name: 'an opsOpen that is not a boolean',
      mutate: (d) => (d.api = { opsOpen: 'yes' }),
      field: 'api.opsOpen',
      reason: /expected boolean/,
    },
    {
      name: 'a negative notification timeout',
      mutate: (d) => (d.notifications = { timeoutMs: -1 }),
      field: 'notifications.timeoutMs',
      reason: />0/,
    },
  ];

  for (const c of broken) {
    test(`refuses ${c.name}, naming ${c.field}`, () => {
      const document = validDocument();
      c.mutate(document);
      const issues = issuesOf(() => load(document, c.env ?? { APP_KEY }));
      const issue = issues.find((i) => i.path === c.field);
      if (!issue) throw new Error(`no issue at ${c.field}; got ${JSON.stringify(issues)}`);
      expect(issue.message).toMatch(c.reason);
    });
  }

  test('the error message lists every bad field and quotes no secret', () => {
    const doc = validDocument();
    doc.accounts[0].privateKey = 'SECRETMATERIAL';
    doc.apps[0].account = 'nope';
    let message = '';
    try {
      load(doc);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/accounts\[0\]\.privateKey: is not a valid PEM private key/);
    expect(message).toMatch(/apps\[0\]\.account: no account with id "nope"/);
    expect(message).not.toContain('SECRETMATERIAL');
  });

  test('the API and the worker metrics listen on loopback unless told; ops closed, no proxy trusted', () => {
    const config = load(validDocument());
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.metrics.host).toBe('127.0.0.1');
    expect(config.api.opsOpen).toBe(false);
    expect(config.http.opsToken).toBeUndefined();
    expect(config.http.trustProxy).toBe(false);
    const told = load(
      {
        ...validDocument(),
        api: { opsOpen: true },
        http: { trustProxy: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'] },
      },
      { APP_KEY, HOST: '0.0.0.0', CANCELFLOW_METRICS_HOST: '0.0.0.0' },
    );
    expect(told.http.host).toBe('0.0.0.0');
    expect(told.metrics.host).toBe('0.0.0.0');
    expect(told.api.opsOpen).toBe(true);
    expect(told.http.trustProxy).toEqual(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    expect(load({ ...validDocument(), http: { trustProxy: true } }).http.trustProxy).toBe(true);
  });

  test('the merchant wait: 5 s by default; one too short to ever hold an answer is refused, naming the field', () => {
    expect(load(validDocument()).api.cancelWaitMs).toBe(5_000);
    expect(load({ ...validDocument(), api: { cancelWaitMs: 100 } }).api.cancelWaitMs).toBe(100);
    for (const cancelWaitMs of [0, 50, 99, -1])
      expect(issuesOf(() => load({ ...validDocument(), api: { cancelWaitMs } })).map((i) => i.path)).toEqual([
        'api.cancelWaitMs',
      ]);
  });

  test("the worker's sizing: only what the file sets; the SDK's floors refused with the field named", () => {
    expect(load(validDocument()).worker).toEqual({});
    const sized = load({
      ...validDocument(),
      worker: { maxCachedWorkflows: 500, maxConcurrentActivityTaskExecutions: 50 },
    });
    expect(sized.worker).toEqual({ maxCachedWorkflows: 500, maxConcurrentActivityTaskExecutions: 50 });
    const issues = issuesOf(() =>
      load({ ...validDocument(), worker: { maxConcurrentWorkflowTaskExecutions: 1, eagerly: true } }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual([
      'worker',
      'worker.maxConcurrentWorkflowTaskExecutions',
    ]);
  });

  test("the worker's polling and eager activities: knobs in the file, mapped to the SDK's options", () => {
    // Left out: the measured defaults (autoscaling pollers) stand.
    expect(workerOverrides(load(validDocument()).worker)).toEqual({});
    expect(WORKER_DEFAULTS.workflowTaskPollerBehavior).toEqual({ type: 'autoscaling' });
    const fixed = load({
      ...validDocument(),
      worker: { pollers: 4, maxEagerActivityReservationsPerWorkflowTask: 0 },
    });
    expect(workerOverrides(fixed.worker)).toEqual({
      maxEagerActivityReservationsPerWorkflowTask: 0,
      workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 4 },
      activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 4 },
    });
    expect(
      workerOverrides(load({ ...validDocument(), worker: { pollers: 'autoscaling' } }).worker),
    ).toMatchObject({ activityTaskPollerBehavior: { type: 'autoscaling' } });
    const issues = issuesOf(() => load({ ...validDocument(), worker: { pollers: 1 } }));
    expect(issues.map((i) => i.path)).toEqual(['worker.pollers']);
    expect(
      issuesOf(() => load({ ...validDocument(), worker: { pollers: 'lots' } })).map((i) => i.path),
    ).toEqual(['worker.pollers']);
  });

  test('HTTP timeouts that fit their activities are accepted', () => {
    const doc = validDocument();
    doc.accounts[0].connectTimeoutMs = 5_000;
    doc.accounts[0].responseTimeoutMs = 30_000;
    doc.notifications = { timeoutMs: 20_000 };
    const config = load(doc);
    expect(config.accounts[0]!.responseTimeoutMs).toBe(30_000);
    expect(config.notifications.timeoutMs).toBe(20_000);
  });

  test('the millisecond limits the config checks against are the activity presets', () => {
    const ms = (duration: string): number => {
      const match = /^(\d+) seconds$/.exec(duration);
      if (!match) throw new Error(`unexpected duration ${duration}`);
      return Number(match[1]) * 1000;
    };
    expect(ms(providerSubmit.startToCloseTimeout)).toBe(providerCallTimeoutMs);
    expect(ms(providerQuery.startToCloseTimeout)).toBe(providerCallTimeoutMs);
    expect(ms(notificationAttempt.startToCloseTimeout)).toBe(notificationAttemptTimeoutMs);
  });

  test("an app's paid-order policy: refuse by default, in UTC; a policy and an IANA zone taken; a bad zone or policy named", () => {
    expect(load(validDocument()).apps[0]).toMatchObject({ paidOrders: 'refuse', paidOrdersTimeZone: 'UTC' });
    const doc = validDocument();
    doc.apps[0].paidOrders = 'revokeOrRefund';
    doc.apps[0].paidOrdersTimeZone = 'Asia/Dubai';
    expect(load(doc).apps[0]).toMatchObject({
      paidOrders: 'revokeOrRefund',
      paidOrdersTimeZone: 'Asia/Dubai',
    });
    doc.apps[0].paidOrdersTimeZone = 'Mars/Olympus';
    doc.apps[0].paidOrders = 'refund-everything';
    const issues = issuesOf(() => load(doc));
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: 'apps[0].paidOrdersTimeZone',
          message: expect.stringMatching(/IANA/),
        }),
        expect.objectContaining({ path: 'apps[0].paidOrders' }),
      ]),
    );
  });

  test('refuses a file that is not JSON, and a missing file', () => {
    expect(issuesOf(() => load('{ "apps": [')).at(0)!.message).toMatch(/not valid JSON/);
    expect(() => loadConfig({ env: { CANCELFLOW_CONFIG: path.join(dir, 'missing.json') } })).toThrow(
      /cannot read the file \(ENOENT\)/,
    );
  });

  test('refuses bad environment values, naming the variable', () => {
    const file = path.join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify(validDocument()));
    const issues = issuesOf(() =>
      loadConfig({
        env: {
          APP_KEY,
          CANCELFLOW_CONFIG: file,
          TEMPORAL_ADDRESS: 'not an address',
          PORT: 'eighty',
          DATABASE_URL: 'mysql://x',
        },
      }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual(['DATABASE_URL', 'PORT', 'TEMPORAL_ADDRESS']);
  });

  test('NO_COLOR (no-color.org): set and not empty turns the CLI tables plain; empty or unset does not', () => {
    expect(load(validDocument(), { APP_KEY, NO_COLOR: '1' }).noColor).toBe(true);
    expect(load(validDocument(), { APP_KEY, NO_COLOR: '' }).noColor).toBe(false);
    expect(load(validDocument()).noColor).toBe(false);
  });

  test('CANCELFLOW_WORKFLOW_BUNDLE: a file that is there is taken as an absolute path; a missing one, or one with the bench workflows, is refused', () => {
    const bundle = path.join(dir, 'workflow-bundle.js');
    writeFileSync(bundle, '/* bundle */');
    const relative = path.relative(process.cwd(), bundle);
    expect(load(validDocument(), { APP_KEY, CANCELFLOW_WORKFLOW_BUNDLE: relative }).workflowBundlePath).toBe(
      bundle,
    );
    expect(load(validDocument()).workflowBundlePath).toBeUndefined();
    const missing = issuesOf(() =>
      load(validDocument(), { APP_KEY, CANCELFLOW_WORKFLOW_BUNDLE: path.join(dir, 'nope.js') }),
    );
    expect(missing).toEqual([
      { path: 'CANCELFLOW_WORKFLOW_BUNDLE', message: expect.stringContaining('no file at') },
    ]);
    const withBench = issuesOf(() =>
      load(validDocument(), { APP_KEY, CANCELFLOW_WORKFLOW_BUNDLE: bundle, CANCELFLOW_BENCH_WORKFLOWS: '1' }),
    );
    expect(withBench).toEqual([
      { path: 'CANCELFLOW_WORKFLOW_BUNDLE', message: expect.stringContaining('bench') },
    ]);
  });
});

describe('configWarnings', () => {
  test('a Unified account without PUBLIC_BASE_URL: gateway callbacks would go to loopback', () => {
    const warnings = configWarnings(load(validDocument()));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/PUBLIC_BASE_URL is not set/);
    expect(warnings[0]).toContain('hk-gw');
    expect(warnings[0]).toContain('http://127.0.0.1:8080');
  });

  test('nothing to say with PUBLIC_BASE_URL set, or without a Unified account', () => {
    expect(
      configWarnings(load(validDocument(), { APP_KEY, PUBLIC_BASE_URL: 'https://cancelflow.example' })),
    ).toEqual([]);
    const paybyOnly = validDocument();
    paybyOnly.accounts = [paybyOnly.accounts[0]];
    expect(configWarnings(load(paybyOnly))).toEqual([]);
  });
});
