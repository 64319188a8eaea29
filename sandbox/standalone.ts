import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { privateKeyFrom, publicKeyFrom } from '../providers/payby/sign';
import { startPaybySandbox, type PaybySandbox } from './payby';
import { paybyBehaviourOf, unifiedBehaviourOf } from './scenarios';
import { startUnifiedSandbox, type UnifiedSandbox } from './unified';

/**
 * Both sandboxes as standalone servers with keys kept in `dir` (generated on first run), and a
 * cancelflow config file that points at them. Orders behave as their references say (scenarios.ts).
 */

export const SANDBOX_GATEWAY = { mchNo: 'M1621873433953', appId: '60cc09bce4b0f1c0b83761c9' };
export const SANDBOX_APPS = {
  payby: { mchNo: 'M1623984572', appId: '60cc09bce4b0f1c0b83761c1', account: 'payby-sandbox' },
  unified: { mchNo: 'M1623984573', appId: '60cc09bce4b0f1c0b83761c2', account: 'unified-sandbox' },
};

export interface StandaloneOptions {
  dir: string;
  paybyPort?: number;
  unifiedPort?: number;
  host?: string;
  /** Multiplier of the gateway's notification schedule (1 = the seed's seconds). */
  notifyScale?: number;
}

export interface Standalone {
  payby: PaybySandbox;
  unified: UnifiedSandbox;
  configPath: string;
  config: Record<string, unknown>;
  close(): Promise<void>;
}

function ensureFile(file: string, make: () => string): string {
  if (!existsSync(file)) writeFileSync(file, make(), { mode: 0o600 });
  return readFileSync(file, 'utf8');
}

function ensureRsaPair(dir: string, name: string): { privatePem: string; publicPem: string } {
  const privateFile = path.join(dir, `${name}-private.pem`);
  const publicFile = path.join(dir, `${name}-public.pem`);
  if (!existsSync(privateFile) || !existsSync(publicFile)) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    writeFileSync(privateFile, privateKey, { mode: 0o600 });
    writeFileSync(publicFile, publicKey);
  }
  return { privatePem: readFileSync(privateFile, 'utf8'), publicPem: readFileSync(publicFile, 'utf8') };
}

export async function startStandaloneSandboxes(options: StandaloneOptions): Promise<Standalone> {
  const keys = path.join(options.dir, 'keys');
  mkdirSync(keys, { recursive: true });
  const merchant = ensureRsaPair(keys, 'merchant');
  const provider = ensureRsaPair(keys, 'payby');
  const wrong = ensureRsaPair(keys, 'not-payby');
  const gatewayKey = ensureFile(path.join(keys, 'unified-gateway.key'), () =>
    randomBytes(16).toString('hex'),
  ).trim();
  for (const app of ['payby-app', 'unified-app'])
    ensureFile(path.join(keys, `${app}.key`), () => randomBytes(16).toString('hex'));

  const payby = await startPaybySandbox({
    merchantPublicKey: publicKeyFrom(merchant.publicPem),
    providerPrivateKey: privateKeyFrom(provider.privatePem),
    wrongPrivateKey: privateKeyFrom(wrong.privatePem),
    defaultBehaviour: (ref) => paybyBehaviourOf(ref.merchantOrderNo ?? ref.orderNo ?? ''),
    ...(options.paybyPort !== undefined ? { port: options.paybyPort } : {}),
    ...(options.host ? { host: options.host } : {}),
  });
  const unified = await startUnifiedSandbox({
    ...SANDBOX_GATEWAY,
    key: gatewayKey,
    notifyScale: options.notifyScale ?? 1,
    defaultBehaviour: (ref) => unifiedBehaviourOf(ref.mchOrderNo ?? ref.payOrderId ?? ''),
    ...(options.unifiedPort !== undefined ? { port: options.unifiedPort } : {}),
    ...(options.host ? { host: options.host } : {}),
  });

  const config = {
    apps: [
      { ...SANDBOX_APPS.payby, key: { file: 'keys/payby-app.key' } },
      { ...SANDBOX_APPS.unified, key: { file: 'keys/unified-app.key' } },
    ],
    accounts: [
      {
        id: SANDBOX_APPS.payby.account,
        provider: 'payby',
        baseUrl: payby.url,
        partnerId: '200000000888',
        privateKey: { file: 'keys/merchant-private.pem' },
        providerPublicKey: { file: 'keys/payby-public.pem' },
      },
      {
        id: SANDBOX_APPS.unified.account,
        provider: 'unified',
        baseUrl: unified.url,
        ...SANDBOX_GATEWAY,
        key: { file: 'keys/unified-gateway.key' },
      },
    ],
    notifications: { allowPrivateNetworks: true },
  };
  const configPath = path.join(options.dir, 'cancelflow.config.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  return {
    payby,
    unified,
    configPath,
    config,
    close: async () => {
      await Promise.all([payby.close(), unified.close()]);
    },
  };
}
