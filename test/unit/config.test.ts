import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { loadConfig, type Config } from '../../common/config';
import { ConfigError } from '../../common/errors';

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
});
