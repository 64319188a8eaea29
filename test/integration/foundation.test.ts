import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/search-attributes';
import { selfCheckWorkflow } from '../../workflows';
import { createActivities } from '../../activities';
import { createAttemptRecorder } from '../../activities/notification-attempt-rows';
import { createLogger } from '../../common/logger';
import { loadConfig } from '../../common/config';
import { freePort } from '../../scripts/ports';
import { resolveTemporalCli, startTemporalDevServer } from '../../scripts/temporal';
import {
  connectTemporal,
  createTestDatabase,
  createTestWorker,
  type TestDatabase,
  type TestTemporal,
} from '../helpers/stack';

let database: TestDatabase;
let temporal: TestTemporal;

beforeAll(async () => {
  [database, temporal] = await Promise.all([createTestDatabase(), connectTemporal()]);
});
afterAll(async () => {
  await temporal?.close();
  await database?.drop();
});

describe('Postgres schema', () => {
  test('migrations create every table of the data model', async () => {
    const tables = await database
      .db('information_schema.tables')
      .where({ table_schema: 'public' })
      .pluck('table_name');
    expect(tables).toEqual(
      expect.arrayContaining([
        'cancellations',
        'cancellation_transitions',
        'provider_calls',
        'notifications',
        'notification_attempts',
        'provider_callbacks',
        'reconciliation_runs',
        'reconciliation_items',
      ]),
    );
  });

  test('one cancellation per app and order reference; states outside 0..4 are refused', async () => {
    const row = {
      cancel_order_id: 'C202611211200000000001',
      workflow_id: 'cancel/acct/pay:P1',
      mch_no: 'M1',
      app_id: 'app1',
      account_id: 'acct',
      provider: 'payby',
      order_ref: 'pay:P1',
      pay_order_id: 'P1',
    };
    await database.db('cancellations').insert(row);
    await database.db('cancellations').insert({ ...row, cancel_order_id: 'C202611211200000000002' });
    // One active cancellation per (app, order number): the numbers live in cancellation_refs.
    const ref = { mch_no: 'M1', app_id: 'app1', order_ref: 'pay:P1' };
    await database.db('cancellation_refs').insert({ ...ref, cancel_order_id: row.cancel_order_id });
    await expect(
      database.db('cancellation_refs').insert({ ...ref, cancel_order_id: 'C202611211200000000002' }),
    ).rejects.toThrow(/cancellation_refs_pkey/);
    // Another app may name the same order.
    await database
      .db('cancellation_refs')
      .insert({ ...ref, app_id: 'app2', cancel_order_id: 'C202611211200000000002' });
    await expect(
      database
        .db('cancellations')
        .insert({ ...row, cancel_order_id: 'C3', workflow_id: 'w3', order_ref: 'pay:P3', state: 5 }),
    ).rejects.toThrow(/cancellations_state_check/);
    await expect(
      database
        .db('cancellations')
        .insert({ ...row, cancel_order_id: 'C4', workflow_id: 'w4', order_ref: 'x', pay_order_id: null }),
    ).rejects.toThrow(/cancellations_order_check/);

    await database.db('notifications').insert({
      notification_id: 'N1',
      cancel_order_id: row.cancel_order_id,
      app_id: 'app1',
      url: 'http://127.0.0.1/notify',
      payload: {},
    });
    const attempt = {
      notification_id: 'N1',
      round: 1,
      attempt_no: 1,
      started_at: new Date(),
      success: false,
      duration_ms: 3,
    };
    await database.db('notification_attempts').insert(attempt);
    await expect(database.db('notification_attempts').insert(attempt)).rejects.toThrow(/unique/);
  });

  test('an attempt is finished once: of two finishers racing on one `sending` row, one writes and counts, the other reads its result', async () => {
    const { finishAttempt } = createAttemptRecorder({ db: database.db, logger: createLogger('silent') });
    for (let round = 1; round <= 20; round++) {
      // One notification per cancellation: a cancellation each.
      const cancelOrderId = `C2026112112000000009${String(round).padStart(2, '0')}`;
      await database.db('cancellations').insert({
        cancel_order_id: cancelOrderId,
        workflow_id: `cancel/acct/pay:P9-${round}`,
        mch_no: 'M1',
        app_id: 'app1',
        account_id: 'acct',
        provider: 'payby',
        order_ref: `pay:P9-${round}`,
        pay_order_id: `P9-${round}`,
      });
      const notificationId = `N9-${round}`;
      await database.db('notifications').insert({
        notification_id: notificationId,
        cancel_order_id: cancelOrderId,
        app_id: 'app1',
        url: 'http://127.0.0.1/notify',
        payload: {},
      });
      const key = { notification_id: notificationId, round: 1, attempt_no: 1 };
      const startedAt = new Date(Date.now() - 1_000);
      await database.db('notification_attempts').insert({ ...key, state: 'sending', started_at: startedAt });
      const [a, b] = await Promise.all([
        finishAttempt(key, startedAt, { state: 'done', success: true, http_status: 200, error: null }),
        finishAttempt(key, startedAt, { state: 'unknown', success: false, error: 'presumed lost' }),
      ]);
      // Both callers are told the one result that stands, and it was counted once.
      expect(b).toEqual(a);
      const stored = await database.db('notification_attempts').where(key).first();
      expect(
        stored.state === 'done'
          ? { success: true, httpStatus: 200 }
          : { success: false, error: 'presumed lost' },
      ).toEqual(a);
      const notification = await database
        .db('notifications')
        .where({ notification_id: notificationId })
        .first();
      expect(notification.attempts).toBe(1);
      expect(notification.last_attempt_at).toEqual(startedAt);
      // Finishing it again later changes nothing.
      expect(
        await finishAttempt(key, startedAt, { state: 'unknown', success: false, error: 'late' }),
      ).toEqual(a);
      expect(
        (await database.db('notifications').where({ notification_id: notificationId }).first()).attempts,
      ).toBe(1);
    }
  });

  test('rolling back and re-applying the migrations works', async () => {
    const [, reverted] = (await database.db.migrate.rollback(undefined, true)) as [number, string[]];
    expect(reverted.length).toBeGreaterThan(0);
    const after = await database
      .db('information_schema.tables')
      .where({ table_schema: 'public', table_name: 'cancellations' });
    expect(after).toHaveLength(0);
    const [, applied] = (await database.db.migrate.latest()) as [number, string[]];
    expect(applied).toEqual(reverted.slice().reverse());
    expect(await database.db('cancellations').count<{ count: number }[]>('* as count')).toEqual([
      { count: 0 },
    ]);
  });
});

describe('Temporal', () => {
  test('the search attributes of ARCHITECTURE.md are registered as Keyword', async () => {
    const { customAttributes } = await temporal.connection.operatorService.listSearchAttributes({
      namespace: 'default',
    });
    for (const name of SEARCH_ATTRIBUTE_NAMES) {
      expect(customAttributes?.[name]).toBe(proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD);
    }
  });

  test('end to end: a real workflow on the real server whose activity writes to Postgres and reads it back', async () => {
    const config = loadConfig({ env: {}, allowMissingFile: true });
    const worker = await createTestWorker(temporal, {
      activities: createActivities({ db: database.db, config, logger: createLogger('silent') }),
    });
    const token = `smoke-${Date.now()}`;
    const result = await worker.runUntil(
      temporal.client.workflow.execute(selfCheckWorkflow, {
        taskQueue: temporal.taskQueue,
        workflowId: `self-check/${token}`,
        args: [token],
      }),
    );
    expect(result.token).toBe(token);
    expect(result.workerIdentity).toBe(`${process.pid}@${os.hostname()}`);
    const rows = await database.db('self_checks').where({ token });
    expect(rows).toHaveLength(1);
  });
});

describe('Temporal launcher', () => {
  test('a restart on an existing database file keeps workflows and registers missing search attributes', async () => {
    const cli = resolveTemporalCli();
    if (cli.kind !== 'binary') throw new Error('this test needs the temporal binary');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cf-launcher-'));
    const dbFile = path.join(dir, 'temporal.sqlite');
    const port = await freePort();
    try {
      // First start: a plain dev server without our search attributes, with one workflow in it.
      const plain = spawn(
        cli.path,
        [
          'server',
          'start-dev',
          '--headless',
          '--ip',
          '127.0.0.1',
          '--port',
          String(port),
          '--db-filename',
          dbFile,
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise((r) => plain.once('exit', r));
      let connection: Connection | undefined;
      for (let i = 0; i < 120 && !connection; i++) {
        try {
          connection = await Connection.connect({ address: `127.0.0.1:${port}`, connectTimeout: 1000 });
          await connection.workflowService.describeNamespace({ namespace: 'default' });
        } catch {
          await connection?.close();
          connection = undefined;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      if (!connection) throw new Error('plain dev server did not start');
      const before = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(before.customAttributes ?? {})).not.toContain('CancelState');
      await new Client({ connection }).workflow.start('selfCheckWorkflow', {
        taskQueue: 'nobody',
        workflowId: 'kept-across-restart',
        args: ['x'],
      });
      await connection.close();
      plain.kill('SIGTERM');
      await exited;

      // Second start through the launcher, on the same file.
      const server = await startTemporalDevServer({ port, dbFile });
      try {
        const again = await Connection.connect({ address: server.address });
        const after = await again.operatorService.listSearchAttributes({ namespace: 'default' });
        for (const name of SEARCH_ATTRIBUTE_NAMES)
          expect(Object.keys(after.customAttributes ?? {})).toContain(name);
        const description = await new Client({ connection: again }).workflow
          .getHandle('kept-across-restart')
          .describe();
        expect(description.status.name).toBe('RUNNING');
        await new Client({ connection: again }).workflow.getHandle('kept-across-restart').terminate();
        await again.close();
      } finally {
        await server.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
