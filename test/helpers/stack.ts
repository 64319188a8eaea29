import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, Worker, type WorkerOptions } from '@temporalio/worker';
import { createDb, migrateLatest, type Knex } from '../../common/db';
import { dropDatabase, ensureDatabase, withDatabase } from '../../scripts/postgres';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests through jest (test/global-setup.ts)`);
  return value;
}

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by an earlier suite in this worker process.
  }
}

export interface TestDatabase {
  db: Knex;
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A throwaway database with the whole schema, for one suite. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = required('CANCELFLOW_TEST_DATABASE_URL');
  const name = `cf_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await ensureDatabase(admin, name);
  const url = withDatabase(admin, name);
  const db = createDb(url, { max: 5 });
  await migrateLatest(db);
  return {
    db,
    url,
    name,
    drop: async () => {
      await db.destroy();
      await dropDatabase(admin, name);
    },
  };
}

export interface TestTemporal {
  address: string;
  namespace: string;
  connection: Connection;
  client: Client;
  nativeConnection: NativeConnection;
  taskQueue: string;
  workflowBundle: { code: string };
  close(): Promise<void>;
}

/** Connections to the run's Temporal server and a task queue of this suite's own. */
export async function connectTemporal(): Promise<TestTemporal> {
  quietRuntime();
  const address = required('CANCELFLOW_TEST_TEMPORAL_ADDRESS');
  const connection = await Connection.connect({ address });
  const nativeConnection = await NativeConnection.connect({ address });
  return {
    address,
    namespace: 'default',
    connection,
    client: new Client({ connection, namespace: 'default' }),
    nativeConnection,
    taskQueue: `test-${randomBytes(6).toString('hex')}`,
    workflowBundle: { code: readFileSync(required('CANCELFLOW_TEST_WORKFLOW_BUNDLE'), 'utf8') },
    close: async () => {
      await nativeConnection.close();
      await connection.close();
    },
  };
}

export async function createTestWorker(
  temporal: TestTemporal,
  options: Pick<WorkerOptions, 'activities'> & Partial<WorkerOptions>,
): Promise<Worker> {
  return Worker.create({
    connection: temporal.nativeConnection,
    namespace: temporal.namespace,
    taskQueue: temporal.taskQueue,
    workflowBundle: temporal.workflowBundle,
    maxCachedWorkflows: 50,
    ...options,
  });
}
