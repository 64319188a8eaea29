import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { MerchantApp } from './northbound';
import { startTsProcess, waitFor, waitForHttpOk, type ManagedProcess } from './processes';

/**
 * cancelflow's own processes in the chaos topology: the config file they share (apps, the two
 * provider accounts, every secret by `{env}` or `{file}`, freshly generated for the run), and each
 * API or worker process under a small supervisor that restarts it the way an init system would:
 * after a kill by the chaos timeline (counted as planned) or after an exit of its own (counted and
 * reported: a process that dies of a fault elsewhere is a finding).
 */

export interface RunKeys {
  /** Our PayBy merchant key pair (the private one is a secret of the run). */
  merchantPrivatePem: string;
  merchantPublicPem: string;
  providerPrivatePem: string;
  providerPublicPem: string;
  wrongPrivatePem: string;
  gatewayKey: string;
  webhookSecret: string;
}

function rsaPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function makeKeys(): RunKeys {
  const merchant = rsaPair();
  const provider = rsaPair();
  return {
    merchantPrivatePem: merchant.privatePem,
    merchantPublicPem: merchant.publicPem,
    providerPrivatePem: provider.privatePem,
    providerPublicPem: provider.publicPem,
    wrongPrivatePem: rsaPair().privatePem,
    gatewayKey: `gw${randomBytes(16).toString('hex')}`,
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
  };
}

/** Two PayBy apps (two merchants) on one account, two Unified apps (one merchant) on the other. */
export function makeApps(): MerchantApp[] {
  const key = () => `ck${randomBytes(16).toString('hex')}`;
  return [
    { name: 'P1', mchNo: 'M1800000000001', appId: '67a0000000000000000000a1', account: 'payby-chaos' },
    { name: 'P2', mchNo: 'M1800000000002', appId: '67a0000000000000000000b2', account: 'payby-chaos' },
    { name: 'U1', mchNo: 'M1800000000003', appId: '67a0000000000000000000c3', account: 'unified-chaos' },
    { name: 'U2', mchNo: 'M1800000000003', appId: '67a0000000000000000000d4', account: 'unified-chaos' },
  ].map((a) => ({ ...a, key: key(), keyEnv: `CHAOS_APP_${a.name}_KEY` }));
}

export const GATEWAY = { mchNo: 'M1621873433953', appId: '60cc09bce4b0f1c0b83761c9' };

export function writeServiceConfig(o: {
  dir: string;
  apps: MerchantApp[];
  keys: RunKeys;
  paybyUrl: string;
  unifiedUrl: string;
  timings: object;
}): string {
  writeFileSync(path.join(o.dir, 'merchant-private.pem'), o.keys.merchantPrivatePem, { mode: 0o600 });
  writeFileSync(path.join(o.dir, 'provider-public.pem'), o.keys.providerPublicPem);
  const file = path.join(o.dir, 'cancelflow.config.json');
  const config = {
    timings: o.timings,
    apps: o.apps.map((a, i) => ({
      mchNo: a.mchNo,
      appId: a.appId,
      key: { env: a.keyEnv },
      account: a.account,
      ...(i === 0 ? { webhookSecret: { env: 'CHAOS_WEBHOOK_SECRET' } } : {}),
    })),
    accounts: [
      {
        id: 'payby-chaos',
        provider: 'payby',
        baseUrl: o.paybyUrl,
        partnerId: '200000000888',
        privateKey: { file: 'merchant-private.pem' },
        providerPublicKey: { file: 'provider-public.pem' },
      },
      {
        id: 'unified-chaos',
        provider: 'unified',
        baseUrl: o.unifiedUrl,
        ...GATEWAY,
        key: { env: 'CHAOS_GATEWAY_KEY' },
      },
    ],
    notifications: { allowPrivateNetworks: true, timeoutMs: 5_000 },
  };
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export interface Service {
  name: string;
  kind: 'api' | 'worker';
  /** API: its base URL. */
  url?: string;
  current(): ManagedProcess;
  /** Exits nobody asked for (each followed by a restart). */
  unexpectedExits: Array<{ at: number; code: number | null; signal: string | null }>;
  /** Every start (first one included). */
  starts: number[];
  /** SIGKILL now, start again after `downS`; resolves when the new process is ready. */
  crash(downS: number): Promise<{ killedAt: number; readyAt: number }>;
  ready(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Who polls `taskQueue`, over every partition. A task queue has several partitions (4 by default)
 * and each describes only the pollers it holds; the root sees a poller of another partition only
 * when that partition forwards a poll, so asking the root alone can miss a worker for minutes.
 */
export async function pollerIdentities(
  connection: Connection,
  taskQueue: string,
  type: temporal.api.enums.v1.TaskQueueType,
): Promise<string[]> {
  const { TASK_QUEUE_TYPE_WORKFLOW } = temporal.api.enums.v1.TaskQueueType;
  const listed = await connection.workflowService.listTaskQueuePartitions({
    namespace: 'default',
    taskQueue: { name: taskQueue },
  });
  const partitions =
    type === TASK_QUEUE_TYPE_WORKFLOW
      ? listed.workflowTaskQueuePartitions
      : listed.activityTaskQueuePartitions;
  const names = [
    taskQueue,
    ...(partitions ?? []).map((p) => p.key ?? '').filter((k) => k && k !== taskQueue),
  ];
  const described = await Promise.all(
    names.map((name) =>
      connection.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: type,
      }),
    ),
  );
  return described.flatMap(({ pollers }) => (pollers ?? []).map((p) => p.identity ?? ''));
}

/** True once process `pid` polls both the workflow and the activity task queue. */
export async function pollsTaskQueue(connection: Connection, taskQueue: string, pid: number) {
  const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;
  const [wf, act] = await Promise.all([
    pollerIdentities(connection, taskQueue, TASK_QUEUE_TYPE_WORKFLOW),
    pollerIdentities(connection, taskQueue, TASK_QUEUE_TYPE_ACTIVITY),
  ]);
  return wf.some((id) => id.startsWith(`${pid}@`)) && act.some((id) => id.startsWith(`${pid}@`));
}

export function superviseService(o: {
  name: string;
  kind: 'api' | 'worker';
  env: NodeJS.ProcessEnv;
  port?: number;
  logFile: string;
  connection: Connection;
  taskQueue: string;
  log: (line: string) => void;
  /** Where the entry point is run from (default: the checkout). */
  cwd?: string;
}): Service {
  const entry = o.kind === 'api' ? 'api/main.ts' : 'worker/main.ts';
  const url = o.port ? `http://127.0.0.1:${o.port}` : undefined;
  let stopping = false;
  let planned = false;
  let proc: ManagedProcess;
  const service: Service = {
    name: o.name,
    kind: o.kind,
    ...(url ? { url } : {}),
    current: () => proc,
    unexpectedExits: [],
    starts: [],
    crash: async (downS) => {
      planned = true;
      const killedAt = Date.now();
      await proc.kill9();
      await new Promise((r) => setTimeout(r, downS * 1000));
      launch();
      await service.ready();
      return { killedAt, readyAt: Date.now() };
    },
    ready: async () => {
      const p = proc;
      if (url) await waitForHttpOk(`${url}/ready`, { timeoutMs: 180_000 });
      else
        await waitFor(`${o.name} polling`, () => pollsTaskQueue(o.connection, o.taskQueue, p.pid), {
          timeoutMs: 180_000,
          intervalMs: 500,
        });
    },
    stop: async () => {
      stopping = true;
      await proc.stop(10_000);
    },
  };
  function launch(): void {
    planned = false;
    const p = startTsProcess(o.name, entry, {
      env: { ...o.env, ...(o.port ? { PORT: String(o.port) } : {}) },
      logFile: o.logFile,
      maxOutputChars: 100_000,
      ...(o.cwd ? { cwd: o.cwd } : {}),
    });
    proc = p;
    service.starts.push(Date.now());
    void p.exited.then((exit) => {
      if (stopping || planned || proc !== p) return;
      service.unexpectedExits.push({ at: Date.now(), code: exit.code, signal: exit.signal });
      o.log(`${o.name} exited by itself (code ${exit.code}, signal ${exit.signal}); restarting in 2 s`);
      setTimeout(() => {
        if (!stopping && proc === p) launch();
      }, 2_000);
    });
  }
  launch();
  return service;
}
