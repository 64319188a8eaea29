import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { createCancelflowClient } from '../../client';
import { CLOCK_SKEW_MS, settleInputOf } from '../../client/cli/settle';
import { notificationWorkflowId, settleWorkflowId } from '../../contract/ids';
import { createActivities } from '../../activities';
import { createLogger } from '../../common/logger';
import { MockActivityEnvironment } from '@temporalio/testing';
import { CancelState } from '../../workflows/search-attributes';
import { recordFixtures, replayCompletedRuns } from '../helpers/replay';
import { freePort, isPortOpen } from '../../scripts/ports';
import {
  createWorld,
  eventually,
  FAST_TIMINGS,
  PAYBY_APP,
  startReceiver,
  UNIFIED_APP,
  type Receiver,
  type World,
} from '../helpers/world';

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'cancelflow.js');
// Every CLI call is a process of its own (about a second of CPU): a test makes up to twenty.
jest.setTimeout(120_000);
const PAYBY = ['--mch-no', PAYBY_APP.mchNo, '--app-id', PAYBY_APP.appId];
const UNIFIED = ['--mch-no', UNIFIED_APP.mchNo, '--app-id', UNIFIED_APP.appId];
let world: World;
let merchant: Receiver;
let cliConfigPath: string;

beforeAll(async () => {
  [world, merchant] = await Promise.all([createWorld(), startReceiver(() => 'success')]);
  // Cancellations started by the CLI wait 10 minutes before asking the provider again: only a
  // `requery` (or a callback) makes one ask sooner. The file goes away with the world's folder.
  cliConfigPath = path.join(path.dirname(world.configPath), 'cli.config.json');
  writeFileSync(
    cliConfigPath,
    JSON.stringify({
      ...JSON.parse(readFileSync(world.configPath, 'utf8')),
      timings: { pollInitialMs: 600_000, pollMaxMs: 600_000 },
    }),
  );
});
afterAll(async () => {
  await merchant?.close();
  await world?.close();
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI as ops run it: its own process, stdout and stderr piped (not a terminal). */
/** Runs the CLI with the world's environment changed by `env` (undefined: the variable unset). */
function cliWith(env: Record<string, string | undefined>, ...args: string[]): Promise<Ran> {
  const merged: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: world.temporal.address,
    CANCELFLOW_TASK_QUEUE: world.temporal.taskQueue,
    CANCELFLOW_CONFIG: cliConfigPath,
    DATABASE_URL: world.database.url,
    LOG_LEVEL: 'silent',
    ...env,
  };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // 'close', not 'exit': the child can exit before its stdout and stderr are read to the end.
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const cli = (...args: string[]) => cliWith({}, ...args);
const json = <T>(ran: Ran): T => JSON.parse(ran.stdout) as T;
const ANSI = '\u001b[';

async function providerQueries(cancelOrderId: string): Promise<number> {
  const [row] = await world.database
    .db('provider_calls')
    .where({ cancel_order_id: cancelOrderId, operation: 'query' })
    .count({ n: '*' });
  return Number(row?.n ?? 0);
}

interface Listed {
  cancelOrderId: string;
  status: string;
  execution: string;
  startTime: string;
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
    expect(status.stdout).toMatch(/paid orders\s*│?\s*refuse \(days in UTC\)/);
    expect(JSON.parse((await cli('status', started.workflowId, '--json')).stdout)).toMatchObject({
      cancelOrderId: started.cancelOrderId,
      paidOrders: { policy: 'refuse', timeZone: 'UTC' },
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
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toMatch(/DONE/);
    expect((await cli('status', 'C000000000000000000000')).code).toBe(3);
    expect((await cli('redeliver', 'C000000000000000000000')).code).toBe(3);
  });

  test('every usage error exits 2, unknown accounts included; unknown ids exit 3; --help exits 0', async () => {
    const usage = [
      [],
      ['frobnicate'],
      ['status'],
      ['status', 'C000000000000000000000', '--bogus'],
      ['list', '--status', 'DONE'],
      ['list', '--provider', 'bitcoin'],
      ['list', '--until', 'soon'],
      ['list', '--account', 'nope'],
      ['reconcile', '--account', 'nope'],
      ['reconcile', 'bogus'],
      ['reconcile', 'runs', '--limit', '0'],
      ['terminate', 'C000000000000000000000'],
      ['terminate', 'C000000000000000000000', '--reason', ' '],
      ['requery'],
      ['why'],
      // follow-up moves money: exactly one of --revoke/--refund, a reason, and --yes when not at a terminal
      ['follow-up', 'C000000000000000000000', '--reason', 'asked by the merchant'],
      ['follow-up', 'C000000000000000000000', '--revoke', '--refund', '--reason', 'asked by the merchant'],
      ['follow-up', 'C000000000000000000000', '--revoke'],
      ['follow-up', 'C000000000000000000000', '--refund', '--reason', 'asked by the merchant'],
    ];
    const ran = await Promise.all(usage.map((args) => cli(...args)));
    const codes = Object.fromEntries(usage.map((args, i) => [args.join(' '), ran[i]!.code]));
    expect(codes).toEqual(Object.fromEntries(usage.map((args) => [args.join(' '), 2])));
    const unknownAccount = ran[usage.findIndex((a) => a[0] === 'list' && a[1] === '--account')]!;
    expect(unknownAccount.stderr).toMatch(/--account: no account "nope" .*known: payby-test, unified-test/);
    expect(ran[usage.findIndex((a) => a[1] === 'bogus')]!.stderr).toMatch(/too many arguments/);

    const missing = ['C000000000000000000000'];
    const notFound = await Promise.all([
      cli('why', ...missing),
      cli('show', ...missing),
      cli('requery', ...missing),
      cli('terminate', ...missing, '--reason', 'test'),
      cli('follow-up', ...missing, '--revoke', '--reason', 'test', '--yes'),
    ]);
    expect(notFound.map((r) => r.code)).toEqual([3, 3, 3, 3, 3]);
    expect((await cli('--help')).code).toBe(0);
  });

  test('requery makes a running cancellation ask now; terminate stops it with a reason; status then reads Postgres; start carries it on', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
    const first = await cli('start', ...UNIFIED, '--pay-order-id', pay, '--json');
    expect(first.code).toBe(0);
    const { cancelOrderId, answer } = json<{ cancelOrderId: string; answer: { status: string } }>(first);
    expect(answer.status).toBe('PENDING');
    expect(await providerQueries(cancelOrderId)).toBe(0); // its next question is 10 minutes away

    const asked = await cli('requery', cancelOrderId);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toContain(`asked: ${cancelOrderId}`);
    await eventually(async () => (await providerQueries(cancelOrderId)) === 1);

    const why = json<{
      cancellation: Record<string, unknown>;
      events: Array<Record<string, unknown> & { at: string; kind: string }>;
    }>(await cli('why', cancelOrderId, '--json'));
    expect(why.cancellation).toMatchObject({ cancel_order_id: cancelOrderId, status: 'PENDING', state: 1 });
    const at = why.events.map((e) => Date.parse(e.at));
    expect(at).toEqual([...at].sort((a, b) => a - b));
    const steps = why.events.map((e) =>
      e.kind === 'transition' ? e.status : `${e.kind} ${String(e.operation)}`,
    );
    const order = ['SUBMITTED', 'provider cancel', 'PENDING', 'provider query'].map((s) => steps.indexOf(s));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(why.events.find((e) => e.operation === 'query')).toMatchObject({
      httpStatus: 200,
      signature: 'valid',
      outcome: 'pending',
      latencyMs: expect.any(Number),
      error: null,
    });
    const shown = await cli('show', cancelOrderId);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/provider query .* HTTP 200, signature valid, pending/);
    expect(shown.stdout).not.toContain(ANSI);

    expect((await cli('terminate', cancelOrderId)).code).toBe(2);
    const stopped = await cli('terminate', cancelOrderId, '--reason', 'gateway ticket 42');
    expect(stopped.code).toBe(0);
    expect(stopped.stdout).toContain(`terminated: ${cancelOrderId}`);
    expect(stopped.stdout).toContain(
      `cancelflow start --mch-no ${UNIFIED_APP.mchNo} --app-id ${UNIFIED_APP.appId} --pay-order-id ${pay}`,
    );

    const status = await cli('status', cancelOrderId);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/PENDING \(state 1\)/);
    expect(status.stdout).toContain('Postgres: its workflow was terminated (reason: gateway ticket 42)');
    expect(json(await cli('status', cancelOrderId, '--json'))).toMatchObject({
      cancelOrderId,
      status: 'PENDING',
      source: 'postgres',
      execution: 'TERMINATED',
      terminateReason: 'gateway ticket 42',
      submits: 1,
      queries: 1,
    });
    const [requery, terminate, ...otherApp] = await Promise.all([
      cli('requery', cancelOrderId),
      cli('terminate', cancelOrderId, '--reason', 'again'),
      // Another app asking about it: not found, stopped or not.
      cli('status', cancelOrderId, ...PAYBY),
      cli('requery', cancelOrderId, ...PAYBY),
      cli('why', cancelOrderId, ...PAYBY),
    ]);
    expect([requery.code, terminate.code]).toEqual([4, 4]);
    expect(otherApp.map((r) => r.code)).toEqual([3, 3, 3]);
    expect(requery.stderr).toMatch(/is not running \(TERMINATED\)/);

    const carried = await cli('start', ...UNIFIED, '--pay-order-id', pay, '--json');
    expect(carried.code).toBe(0);
    expect(json<{ cancelOrderId: string }>(carried).cancelOrderId).toBe(cancelOrderId);
    const runs = await eventually(async () => {
      const listed = json<Listed[]>(await cli('list', '--order', pay, '--json'));
      return listed.length === 2 && listed.every((r) => r.cancelOrderId) ? listed : undefined;
    });
    expect(runs.map((r) => [r.cancelOrderId, r.execution])).toEqual([
      [cancelOrderId, 'RUNNING'],
      [cancelOrderId, 'TERMINATED'],
    ]);
    expect(json(await cli('status', cancelOrderId, '--json'))).toMatchObject({ source: 'temporal' });
    expect((await cli('terminate', cancelOrderId, '--reason', 'end of test')).code).toBe(0);
  });

  test('why shows the notification attempts too; status reads Postgres once the workflow is gone', async () => {
    world.payby.setOrder('CLI-W', { status: 'CREATED' });
    const started = json<{ cancelOrderId: string; workflowId: string }>(
      await cli(
        'start',
        ...PAYBY,
        '--mch-order-no',
        'CLI-W',
        '--notify-url',
        merchant.url,
        '--wait',
        '--json',
      ),
    );
    await eventually(async () => {
      const n = await world.database
        .db('notifications')
        .where({ cancel_order_id: started.cancelOrderId })
        .first<{ status: string } | undefined>();
      return n?.status === 'delivered';
    });
    const why = json<{ events: Array<Record<string, unknown>> }>(
      await cli('why', started.cancelOrderId, '--json'),
    );
    expect(why.events).toContainEqual(
      expect.objectContaining({
        kind: 'provider',
        operation: 'cancel',
        outcome: 'cancelled',
        httpStatus: 200,
      }),
    );
    expect(why.events).toContainEqual(expect.objectContaining({ kind: 'transition', status: 'SUCCEEDED' }));
    expect(why.events.at(-1)).toMatchObject({
      kind: 'notification',
      round: 1,
      attempt: 1,
      success: true,
      httpStatus: 200,
    });
    const shown = (await cli('show', started.cancelOrderId)).stdout;
    expect(shown).toMatch(/SUCCEEDED \(state 2\)/);
    expect(shown).toMatch(/notification 1\.1 .* delivered, HTTP 200/);
    expect(shown).toMatch(/delivered, 1 round\(s\), 1 attempt\(s\)/);

    // Retention: Temporal forgets the workflow, Postgres keeps the record.
    await world.temporal.client.workflowService.deleteWorkflowExecution({
      namespace: world.temporal.namespace,
      workflowExecution: { workflowId: started.workflowId },
    });
    await eventually(
      () =>
        world.temporal.client.workflow
          .getHandle(started.workflowId)
          .describe()
          .then(
            () => false,
            (err: unknown) => err instanceof WorkflowNotFoundError,
          ),
      60_000,
    );
    const status = await cli('status', started.cancelOrderId, '--json');
    expect(status.code).toBe(0);
    expect(json(status)).toMatchObject({
      status: 'SUCCEEDED',
      state: 2,
      source: 'postgres',
      execution: 'GONE',
      submits: 1,
    });
    const people = await cli('status', started.cancelOrderId);
    expect(people.code).toBe(0);
    expect(people.stdout).toContain('Postgres: its workflow is gone from Temporal (retention)');
    expect((await cli('requery', started.cancelOrderId)).code).toBe(4);
  });

  test('list: newest first, --until, --provider, --account, --order, the run state, no colour codes when piped', async () => {
    const t0 = new Date();
    const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
    const older = json<{ cancelOrderId: string }>(
      await cli('start', ...UNIFIED, '--pay-order-id', pay, '--json'),
    ).cancelOrderId; // still running at the end: Temporal lists open runs first
    const between = new Date();
    world.payby.setOrder('CLI-L', { status: 'CREATED' });
    const newer = json<{ cancelOrderId: string }>(
      await cli('start', ...PAYBY, '--mch-order-no', 'CLI-L', '--wait', '--json'),
    ).cancelOrderId;
    const since = ['--since', t0.toISOString()];

    const list = await eventually(async () => {
      const l = json<Listed[]>(await cli('list', ...since, '--json'));
      return l.some((c) => c.cancelOrderId === newer && c.status === 'SUCCEEDED') &&
        l.some((c) => c.cancelOrderId === older)
        ? l
        : undefined;
    });
    const ids = list.map((c) => c.cancelOrderId);
    expect(ids.indexOf(newer)).toBeLessThan(ids.indexOf(older));
    const starts = list.map((c) => Date.parse(c.startTime));
    expect(starts).toEqual([...starts].sort((a, b) => b - a));
    const [newest] = json<Listed[]>(await cli('list', ...since, '--limit', '1', '--json'));
    expect(Date.parse(newest!.startTime)).toBeGreaterThanOrEqual(
      Date.parse(list.find((c) => c.cancelOrderId === newer)!.startTime),
    );

    const [until, unified, payby, byOrder, byPayOrder, people] = await Promise.all([
      cli('list', ...since, '--until', between.toISOString(), '--json'),
      cli('list', ...since, '--provider', 'unified', '--json'),
      cli('list', ...since, '--account', 'payby-test', '--json'),
      cli('list', '--order', 'CLI-L', '--json'),
      cli('list', '--order', pay, '--json'),
      cli('list', ...since),
    ]);
    const idsOf = (r: Ran) => json<Listed[]>(r).map((c) => c.cancelOrderId);
    expect(idsOf(until)).toContain(older);
    expect(idsOf(until)).not.toContain(newer);
    expect(idsOf(unified)).toContain(older);
    expect(idsOf(unified)).not.toContain(newer);
    expect(idsOf(payby)).toContain(newer);
    expect(idsOf(payby)).not.toContain(older);
    expect(json<Listed[]>(byOrder).map((c) => [c.cancelOrderId, c.execution])).toEqual([
      [newer, 'COMPLETED'],
    ]);
    expect(json<Listed[]>(byPayOrder).map((c) => [c.cancelOrderId, c.execution])).toEqual([
      [older, 'RUNNING'],
    ]);
    expect(people.code).toBe(0);
    expect(people.stdout).toMatch(/│ run\s+│/);
    expect(people.stdout).toMatch(new RegExp(`${newer}\\s+│ SUCCEEDED\\s+│ Completed`));
    expect(people.stdout).toMatch(new RegExp(`${older}\\s+│ PENDING\\s+│ Running`));
    expect(people.stdout).not.toContain(ANSI);
    expect((await cli('terminate', older, '--reason', 'end of test')).code).toBe(0);
  });

  test('reconcile --dry-run says what it would repair and changes nothing; reconcile runs lists past runs', async () => {
    const pay = world.unified.setOrder({ settleAfterMs: 300, silent: true });
    const { cancelOrderId } = json<{ cancelOrderId: string }>(
      await cli('start', ...UNIFIED, '--pay-order-id', pay, '--json'),
    );
    await new Promise((r) => setTimeout(r, 400)); // the gateway has cancelled it; we have not asked yet
    const dry = await cli('reconcile', '--account', 'unified-test', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/REPAIRED \(would repair\)/);
    expect(dry.stdout).toMatch(/[1-9]\d* would repair \(dry run: nothing was changed\)/);
    expect(dry.stdout).not.toMatch(/repaired/);
    const row = await world.database.db('cancellations').where({ cancel_order_id: cancelOrderId }).first();
    expect(row).toMatchObject({ status: 'PENDING' });

    const runs = json<Array<{ run_id: string; dry_run: boolean; counts: Record<string, number> }>>(
      await cli('reconcile', 'runs', '--json'),
    );
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs[0]).toMatchObject({ dry_run: true, account_id: 'unified-test', status: 'finished' });
    expect(runs[0]!.counts.REPAIRED).toBeGreaterThanOrEqual(1);
    const [one, people] = await Promise.all([
      cli('reconcile', 'runs', '--limit', '1', '--json'),
      cli('reconcile', 'runs'),
    ]);
    expect(json<unknown[]>(one)).toHaveLength(1);
    expect(people.stdout).toContain(`${runs[0]!.run_id} (dry run)`);
    expect(people.stdout).toMatch(/REPAIRED [1-9]/);
    expect(people.stdout).not.toContain(ANSI);
    expect((await cli('terminate', cancelOrderId, '--reason', 'end of test')).code).toBe(0);
  });

  test('a connection failure names the address it tried and exits 1', async () => {
    const [temporal, postgres] = await Promise.all([
      cliWith({ TEMPORAL_ADDRESS: '127.0.0.1:1' }, 'status', 'C000000000000000000000'),
      cliWith({ DATABASE_URL: 'postgres://cancelflow:hunter2@127.0.0.1:1/cancelflow' }, 'reconcile', 'runs'),
    ]);
    expect(temporal.code).toBe(1);
    expect(temporal.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
    expect(postgres.code).toBe(1);
    expect(postgres.stderr).toContain(
      'cannot reach Postgres at postgres://cancelflow:***@127.0.0.1:1/cancelflow',
    );
    expect(postgres.stderr).not.toContain('hunter2');
  });

  test("without DATABASE_URL the CLI uses the dev stack's Postgres and starts none: down, it says so and how to start it", async () => {
    const port = String(await freePort());
    const ran = await cliWith({ DATABASE_URL: undefined, CANCELFLOW_PG_PORT: port }, 'reconcile', 'runs');
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain(
      `cannot reach Postgres at postgres://postgres:***@127.0.0.1:${port}/cancelflow`,
    );
    expect(ran.stderr).toContain('npm run dev');
    // Nothing was started on that port.
    expect(await isPortOpen(Number(port))).toBe(false);
  });
});

describe('settle: ops write the verdict no run or repair can reach', () => {
  const row = (id: string) => world.database.db('cancellations').where({ cancel_order_id: id }).first();
  const lastTransition = (id: string) =>
    world.database
      .db('cancellation_transitions')
      .where({ cancel_order_id: id })
      .orderBy('seq', 'desc')
      .first<{ status: string; state: number; reason: string }>();
  const newestRunState = async (workflowId: string) =>
    (await world.temporal.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(
      CancelState,
    );
  /** Cancellations that give up after 3 s (UNRESOLVED, held 50 ms): their run is closed soon after. */
  const shortLived = () =>
    createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, deadlineMs: 3_000, unresolvedHoldMs: 50 },
    });
  const activities = () =>
    createActivities({ db: world.database.db, config: world.config, logger: createLogger('silent') });
  const settleByHand = (input: Parameters<ReturnType<typeof activities>['settleByHand']>[0]) =>
    new MockActivityEnvironment().run(activities().settleByHand, input);

  test('a Unified refusal after a lost cancel, settled FAILED by hand: written whole with the evidence, shown in Temporal, the merchant notified once; refused when bad, already final, or unknown', async () => {
    // The gateway refuses the cancel (the order is paid), the answer is lost, the repeat is refused:
    // the order may be cancelled under a cancel order we never learnt, so nothing decides it.
    const pay = world.unified.setOrder({
      result: 'paid',
      loseCancelResponse: true,
      repeatRefusal: 'order status not allowed',
      silent: true,
    });
    const cf = shortLived();
    const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay, notifyUrl: merchant.url });
    const id = started.cancelOrderId;
    expect(await cf.waitForResult(id)).toMatchObject({ status: 'UNRESOLVED', state: 1 });
    // What ops learn from the gateway out of band: its cancel order failed.
    expect(world.unified.order(pay)!.cancel!.state).toBe(3);

    // Refused before anything is written: the option and why.
    expect(() => settleInputOf(id, { as: 'MAYBE', evidence: 'x', operator: 'a' })).toThrow('--as: must be');
    expect(() => settleInputOf(id, { as: 'FAILED', evidence: '  ', operator: 'a' })).toThrow(
      '--evidence: must say',
    );
    expect(() => settleInputOf(id, { as: 'FAILED', evidence: 'x'.repeat(161), operator: 'a' })).toThrow(
      '--evidence: at most 160',
    );
    expect(() => settleInputOf(id, { as: 'FAILED', evidence: 'x', operator: 'o'.repeat(41) })).toThrow(
      '--operator: at most 40',
    );
    expect(() => settleInputOf(id, { as: 'FAILED', evidence: 'x', operator: ' ' })).toThrow(
      '--operator: must name',
    );
    expect(settleInputOf(id, { as: ' failed ', evidence: ' ticket 1 ', operator: ' ops ' })).toEqual({
      cancelOrderId: id,
      status: 'FAILED',
      evidence: 'ticket 1',
      operator: 'ops',
    });
    // What the provider told ops of a cancel that happened, passed on; refused when it cannot be so.
    const now = Date.parse('2026-12-02T08:00:00Z');
    const ok = { as: 'SUCCEEDED', evidence: 'x', operator: 'a' };
    expect(
      settleInputOf(
        id,
        { ...ok, successTime: '2026-12-02T15:59:59.5+08:00', channelOrderNo: ' 2021061822 ' },
        now,
      ),
    ).toMatchObject({ successTime: now - 500, channelOrderNo: '2021061822' });
    expect(settleInputOf(id, { ...ok, successTime: String(now) }, now)).toMatchObject({ successTime: now });
    // A provider's clock a little ahead of ours is believed.
    expect(settleInputOf(id, { ...ok, successTime: String(now + CLOCK_SKEW_MS) }, now)).toMatchObject({
      successTime: now + CLOCK_SKEW_MS,
    });
    for (const [successTime, why] of [
      [String(now + CLOCK_SKEW_MS + 1), '--success-time: is in the future'],
      ['2026-02-31T10:00:00Z', '--success-time: must be a 13-digit'],
      ['2026-12-02T24:00:00Z', '--success-time: must be a 13-digit'],
      ['1622016572', '--success-time: must be a 13-digit'],
      ['2026-12-02 08:00', '--success-time: must be a 13-digit'],
      ['2026-12-02T08:00:00', '--success-time: must be a 13-digit'],
      ['2026-13-45T08:00:00Z', '--success-time: must be a 13-digit'],
    ] as const)
      expect(() => settleInputOf(id, { ...ok, successTime }, now)).toThrow(why);
    for (const channelOrderNo of ['', 'a b', 'x'.repeat(65), '单号'])
      expect(() => settleInputOf(id, { ...ok, channelOrderNo }, now)).toThrow('--channel-order-no: must be');
    expect(() => settleInputOf(id, { ...ok, as: 'FAILED', successTime: String(now) }, now)).toThrow(
      '--success-time: only with --as SUCCEEDED',
    );
    expect(() => settleInputOf(id, { ...ok, as: 'FAILED', channelOrderNo: '1' }, now)).toThrow(
      '--channel-order-no: only with --as SUCCEEDED',
    );
    const noEvidence = await cli('settle', id, '--as', 'FAILED');
    expect(noEvidence.code).toBe(2);
    expect(noEvidence.stderr).toContain('--evidence');
    const unknown = await cli(
      'settle',
      'C000000000000000000000',
      '--as',
      'FAILED',
      '--evidence',
      'x',
      '--operator',
      'a',
    );
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('no cancellation C000000000000000000000');
    // Who settles must be said.
    const anonymous = await cli('settle', id, '--as', 'FAILED', '--evidence', 'x');
    expect(anonymous.code).toBe(2);
    expect(anonymous.stderr).toContain("required option '--operator <name>' not specified");
    expect(await row(id)).toMatchObject({ status: 'UNRESOLVED', state: 1 });

    // The longest operator and evidence are kept whole (the ticket number is at the end).
    const operator = 'o'.repeat(40);
    const head = `gateway: payment order ${pay} not cancelled, cancel order ${world.unified.order(pay)!.cancel!.cancelOrderId} failed (paid); ticket `;
    const evidence = head + '4'.repeat(160 - head.length);
    const settled = await cli(
      'settle',
      id,
      '--as',
      'failed',
      '--evidence',
      evidence,
      '--operator',
      operator,
      '--json',
    );
    expect(settled.stderr).toBe('');
    expect(settled.code).toBe(0);
    expect(json(settled)).toMatchObject({ cancelOrderId: id, status: 'FAILED', reason: 'applied' });
    expect(await row(id)).toMatchObject({ status: 'FAILED', state: 3, err_code: 'SETTLED_BY_HAND' });
    expect(await lastTransition(id)).toMatchObject({
      status: 'FAILED',
      state: 3,
      reason: `settled by hand by ${operator}: ${evidence}`,
    });
    // The merchant is told 3, signed, once (the round has ended); Temporal shows the new state.
    await world.temporal.client.workflow.getHandle(notificationWorkflowId(id)).result();
    const told = merchant.received.filter((r) => r.params.cancelOrderId === id);
    expect(told.map((r) => r.params.state)).toEqual(['3']);
    expect(told[0]!.params.sign).toEqual(expect.any(String));
    expect(await newestRunState(settleWorkflowId(id))).toBe('FAILED');
    await eventually(async () => (await newestRunState(started.workflowId)) === 'FAILED');

    // Settled once: a second verdict is refused and changes nothing, by the CLI and by the activity.
    const again = await cli(
      'settle',
      id,
      '--as',
      'SUCCEEDED',
      '--evidence',
      'changed my mind',
      '--operator',
      'bob',
    );
    expect(again.code).toBe(4);
    expect(again.stderr).toContain(`${id} is FAILED (state 3) already`);
    const expected = {
      status: 'UNRESOLVED',
      workflowRunId: (await row(id)).workflow_run_id,
      until: Date.now() + 60_000,
    } as const;
    expect(
      await settleByHand({
        cancelOrderId: id,
        status: 'SUCCEEDED',
        evidence: 'x',
        operator: 'bob',
        expected,
      }),
    ).toMatchObject({ applied: false, reason: 'terminal', status: 'FAILED', notify: false });
    // The same settle, retried after it committed (its activity died before answering): no second
    // notification, since the first one was begun.
    expect(
      await settleByHand({ cancelOrderId: id, status: 'FAILED', evidence, operator, expected }),
    ).toMatchObject({ applied: true, reason: 'duplicate', notify: false });
    expect(await lastTransition(id)).toMatchObject({ reason: `settled by hand by ${operator}: ${evidence}` });
  });

  test('only an UNRESOLVED one, and not while a run of it is open (it may still decide)', async () => {
    const args = (id: string) => [
      'settle',
      id,
      '--as',
      'SUCCEEDED',
      '--evidence',
      'gateway says cancelled',
      '--operator',
      'alice',
    ];
    // Stopped while PENDING: a cancel may be on its way; carried on (asking first), not settled.
    const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
    const pending = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    expect((await cli('terminate', pending.cancelOrderId, '--reason', 'stuck at the gateway')).code).toBe(0);
    const refused = await cli(...args(pending.cancelOrderId));
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain(
      `${pending.cancelOrderId} is PENDING: only an UNRESOLVED cancellation is settled by hand`,
    );
    expect(await row(pending.cancelOrderId)).toMatchObject({ status: 'PENDING', state: 1 });
    // The activity too: a row no longer UNRESOLVED is not written, whoever asks.
    expect(
      await settleByHand({
        cancelOrderId: pending.cancelOrderId,
        status: 'SUCCEEDED',
        evidence: 'x',
        operator: 'alice',
        expected: {
          status: 'UNRESOLVED',
          workflowRunId: (await row(pending.cancelOrderId)).workflow_run_id,
          until: Date.now() + 60_000,
        },
      }),
    ).toMatchObject({ applied: false, reason: 'changed', status: 'PENDING' });

    // UNRESOLVED, its run holding for a late callback: the run may still decide.
    const held = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, deadlineMs: 3_000, unresolvedHoldMs: 600_000 },
    });
    const holding = await held.startCancellation({
      ...UNIFIED_APP,
      payOrderId: world.unified.setOrder({ pendingQueries: 1_000, silent: true }),
    });
    const id = holding.cancelOrderId;
    await eventually(async () => (await row(id)).status === 'UNRESOLVED');
    const open = await cli(...args(id));
    expect(open.code).toBe(4);
    expect(open.stderr).toContain(`a run of ${id} is open`);
    expect(await row(id)).toMatchObject({ status: 'UNRESOLVED', state: 1 });
    expect((await cli('terminate', id, '--reason', 'test done')).code).toBe(0);
  });

  test('settled SUCCEEDED with what the provider told ops; never over a row that changed since ops looked; a paid-order follow-up only once money is checked', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
    const cf = shortLived();
    const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay, notifyUrl: merchant.url });
    const id = started.cancelOrderId;
    expect(await cf.waitForResult(id)).toMatchObject({ status: 'UNRESOLVED', state: 1 });
    const runId = (await row(id)).workflow_run_id as string;
    expect(runId).toEqual(expect.any(String));

    // Decided on what the row was: another run has taken it over since, or it moved on.
    const input = {
      cancelOrderId: id,
      status: 'SUCCEEDED',
      evidence: 'gateway: cancelled',
      operator: 'alice',
    } as const;
    const until = Date.now() + 60_000;
    for (const expected of [
      { status: 'UNRESOLVED', workflowRunId: 'another-run', until },
      { status: 'UNRESOLVED', workflowRunId: null, until },
    ] as const)
      expect(await settleByHand({ ...input, expected })).toMatchObject({
        applied: false,
        reason: 'changed',
        status: 'UNRESOLVED',
      });
    expect(
      await settleByHand({
        ...input,
        cancelOrderId: 'C000000000000000000000',
        expected: { status: 'UNRESOLVED', workflowRunId: runId, until },
      }),
    ).toEqual({ applied: false, reason: 'no such cancellation', notify: false });
    // Decided too long ago (the worker or Postgres was away past the CLI's deadline): not written.
    expect(
      await settleByHand({
        ...input,
        expected: { status: 'UNRESOLVED', workflowRunId: runId, until: Date.now() - 1 },
      }),
    ).toMatchObject({ applied: false, reason: 'expired', status: 'UNRESOLVED' });
    expect(await row(id)).toMatchObject({ status: 'UNRESOLVED', state: 1 });

    // Retired by a retry: the newer cancellation is the one to settle.
    await world.database
      .db('cancellations')
      .where({ cancel_order_id: id })
      .update({ retired_at: new Date() });
    const retired = await cli('settle', id, '--as', 'SUCCEEDED', '--evidence', 'x', '--operator', 'alice');
    expect(retired.code).toBe(4);
    expect(retired.stderr).toContain(`${id} was retried`);
    await world.database.db('cancellations').where({ cancel_order_id: id }).update({ retired_at: null });

    // A revoke or refund under it may have moved money: only once ops say they checked.
    await world.database.db('cancellations').where({ cancel_order_id: id }).update({ follow_up: 'refund' });
    const args = [
      'settle',
      id,
      '--as',
      'SUCCEEDED',
      '--evidence',
      'gateway: cancelled',
      '--operator',
      'alice',
    ];
    const unchecked = await cli(...args);
    expect(unchecked.code).toBe(4);
    expect(unchecked.stderr).toContain('UNRESOLVED during a refund of the paid order');
    // A success time before the cancellation was requested is not this cancel's: refused, nothing written.
    const early = await cli(...args, '--money-checked', '--success-time', '0000000000001');
    expect(early.code).toBe(2);
    expect(early.stderr).toContain('--success-time: is before');
    expect(await row(id)).toMatchObject({ status: 'UNRESOLVED' });
    const successTime = Date.now() - 60_000;
    const settled = await cli(
      ...args,
      '--money-checked',
      '--success-time',
      String(successTime),
      '--channel-order-no',
      '2021061822001423031419593035',
    );
    expect(settled.stderr).toBe('');
    expect(settled.code).toBe(0);
    expect(settled.stdout).toContain(`settled: ${id} is SUCCEEDED`);
    expect(await row(id)).toMatchObject({
      status: 'SUCCEEDED',
      state: 2,
      success_time: new Date(successTime),
      channel_order_no: '2021061822001423031419593035',
    });
    expect(await lastTransition(id)).toMatchObject({
      reason: 'settled by hand by alice: gateway: cancelled',
    });
    await eventually(async () => (await newestRunState(started.workflowId)) === 'SUCCEEDED');
    // The merchant is told it, once, with the provider's success time and channel order number.
    await world.temporal.client.workflow.getHandle(notificationWorkflowId(id)).result();
    const told = merchant.received.filter((r) => r.params.cancelOrderId === id);
    expect(told.map((r) => r.params)).toEqual([
      expect.objectContaining({
        state: '2',
        successTime: String(successTime),
        channelOrderNo: '2021061822001423031419593035',
      }),
    ]);
  });

  test('two operators at once, with opposite verdicts: exactly one is written and notified, the other is refused', async () => {
    const pay = world.unified.setOrder({ pendingQueries: 1_000, silent: true });
    const cf = shortLived();
    const started = await cf.startCancellation({ ...UNIFIED_APP, payOrderId: pay, notifyUrl: merchant.url });
    const id = started.cancelOrderId;
    expect(await cf.waitForResult(id)).toMatchObject({ status: 'UNRESOLVED', state: 1 });
    const verdict = (as: string, operator: string) =>
      cli(
        'settle',
        id,
        '--as',
        as,
        '--evidence',
        `${operator} asked the gateway`,
        '--operator',
        operator,
        '--json',
      );
    const ran = await Promise.all([verdict('SUCCEEDED', 'alice'), verdict('FAILED', 'bob')]);
    expect(ran.map((r) => r.code).sort()).toEqual([0, 4]);
    const won = ran.findIndex((r) => r.code === 0);
    const [status, state, operator] = won === 0 ? ['SUCCEEDED', 2, 'alice'] : ['FAILED', 3, 'bob'];
    expect(json(ran[won]!)).toMatchObject({ cancelOrderId: id, status, reason: 'applied' });
    // The loser was stopped by the settle already running, by the row it found final, or (it read
    // the row before the winner wrote it) by the run the winner started to show the verdict.
    expect(ran[1 - won]!.stderr).toMatch(
      new RegExp(`is being settled already|already|not settled: terminal|a run of ${id} is open`),
    );
    expect(await row(id)).toMatchObject({ status, state });
    const byHand = await world.database
      .db('cancellation_transitions')
      .where({ cancel_order_id: id })
      .whereLike('reason', 'settled by hand%')
      .pluck('reason');
    expect(byHand).toEqual([`settled by hand by ${operator}: ${operator} asked the gateway`]);
    await world.temporal.client.workflow.getHandle(notificationWorkflowId(id)).result();
    const told = merchant.received.filter((r) => r.params.cancelOrderId === id);
    expect(told.map((r) => r.params.state)).toEqual([String(state)]);
  });

  test('the settle runs of this suite replay with the current workflow code', async () => {
    const { histories, failures } = await replayCompletedRuns(world, 'settleWorkflow');
    expect(histories.length).toBeGreaterThanOrEqual(2);
    expect(failures).toEqual([]);
    // RECORD_HISTORIES=1 npm test -- cli: refresh the committed fixture (test/replay).
    recordFixtures(histories.slice(0, 1).map((h) => ({ ...h, workflowId: 'settle/1' })));
  });
});
