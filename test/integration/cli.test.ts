import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  createWorld,
  eventually,
  PAYBY_APP,
  startReceiver,
  type Receiver,
  type World,
} from '../helpers/world';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'cancelflow.js');
let world: World;
let merchant: Receiver;

beforeAll(async () => {
  [world, merchant] = await Promise.all([createWorld(), startReceiver(() => 'success')]);
});
afterAll(async () => {
  await merchant?.close();
  await world?.close();
});

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TEMPORAL_ADDRESS: world.temporal.address,
        CANCELFLOW_TASK_QUEUE: world.temporal.taskQueue,
        CANCELFLOW_CONFIG: world.configPath,
        DATABASE_URL: world.database.url,
        LOG_LEVEL: 'silent',
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('the cancelflow CLI against the real stack', () => {
  test('start --wait --json, a repeat finds the same one, status and list show it, redeliver works', async () => {
    world.payby.setOrder('CLI-1', { status: 'CREATED' });
    const app = ['--mch-no', PAYBY_APP.mchNo, '--app-id', PAYBY_APP.appId];
    const first = await cli(
      'start',
      ...app,
      '--mch-order-no',
      'CLI-1',
      '--notify-url',
      merchant.url,
      '--wait',
      '--json',
    );
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const started = JSON.parse(first.stdout);
    expect(started).toMatchObject({ created: true, result: { status: 'SUCCEEDED', state: 2 } });

    const again = await cli('start', ...app, '--mch-order-no', 'CLI-1');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already exists: ${started.cancelOrderId}`);

    const status = await cli('status', started.cancelOrderId);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/SUCCEEDED \(state 2\)/);
    expect(JSON.parse((await cli('status', started.workflowId, '--json')).stdout)).toMatchObject({
      cancelOrderId: started.cancelOrderId,
    });

    const listed = await eventually(async () => {
      const r = await cli('list', '--account', 'payby-test', '--status', 'SUCCEEDED', '--json');
      const list = JSON.parse(r.stdout) as Array<{ cancelOrderId: string }>;
      return list.some((c) => c.cancelOrderId === started.cancelOrderId) ? list : undefined;
    });
    expect(listed.length).toBeGreaterThanOrEqual(1);
    expect((await cli('list', '--account', 'payby-test')).stdout).toMatch(/\d+ cancellation\(s\)/);

    await eventually(async () =>
      merchant.received.some((r) => r.params.cancelOrderId === started.cancelOrderId),
    );
    const redelivered = await eventually(async () => {
      const r = await cli('redeliver', started.cancelOrderId);
      return r.code === 0 ? r : undefined; // 4 while the first round is still closing
    });
    expect(redelivered.stdout).toContain(`notify/${started.cancelOrderId}`);
    await eventually(
      async () =>
        merchant.received.filter((r) => r.params.cancelOrderId === started.cancelOrderId).length === 2,
    );
  });

  test('reconcile runs the reconciliation workflow and report exports its items', async () => {
    world.payby.setOrder('CLI-R', { status: 'CREATED' });
    const app = ['--mch-no', PAYBY_APP.mchNo, '--app-id', PAYBY_APP.appId];
    const started = JSON.parse(
      (await cli('start', ...app, '--mch-order-no', 'CLI-R', '--wait', '--json')).stdout,
    );
    const run = await cli('reconcile', '--account', 'payby-test', '--json');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.counts.MATCHED).toBeGreaterThanOrEqual(1);
    expect(result.total).toBe(
      Object.values(result.counts as Record<string, number>).reduce((a, b) => a + b, 0),
    );
    const people = await cli('reconcile', '--account', 'payby-test', '--dry-run');
    expect(people.code).toBe(0);
    expect(people.stderr).toMatch(/\[#+\] \d+\/\d+/);
    expect(people.stdout).toMatch(/MATCHED/);
    const csv = await cli('reconcile', 'report', result.runId, '--csv');
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('cancel_order_id,class,our_state,provider_state,repaired,detail');
    expect(lines.find((l) => l.startsWith(started.cancelOrderId))).toMatch(/^C\d{21},MATCHED,2,2,false,/);
    const json = JSON.parse((await cli('reconcile', 'report', result.runId, '--json')).stdout);
    expect(json.items.length).toBe(result.total);
    expect((await cli('reconcile', 'report', 'no-such-run')).code).toBe(3);
    expect((await cli('reconcile', '--from', 'last tuesday')).code).toBe(2);
  });

  test('bad input exits 2 naming the field; unknown ids exit 3', async () => {
    const noOrder = await cli('start', '--mch-no', PAYBY_APP.mchNo, '--app-id', PAYBY_APP.appId);
    expect(noOrder.code).toBe(2);
    expect(noOrder.stderr).toMatch(/payOrderId: payOrderId or mchOrderNo is required/);
    const unknownApp = await cli('start', '--mch-no', 'M0', '--app-id', 'x', '--mch-order-no', 'o');
    expect(unknownApp.code).toBe(2);
    expect(unknownApp.stderr).toMatch(/app M0\/x is not configured/);
    const badLimit = await cli('list', '--limit', 'many');
    expect(badLimit.code).toBe(2);
    expect(badLimit.stderr).toMatch(/--limit: must be a positive integer/);
    const badStatus = await cli('list', '--status', 'DONE');
    expect(badStatus.code).not.toBe(0);
    expect(badStatus.stderr).toMatch(/DONE/);
    expect((await cli('status', 'C000000000000000000000')).code).toBe(3);
    expect((await cli('redeliver', 'C000000000000000000000')).code).toBe(3);
  });
});
