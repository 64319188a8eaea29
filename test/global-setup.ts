import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startEmbeddedPostgres, type RunningPostgres } from '../scripts/postgres';
import { freePort } from '../scripts/ports';
import { startTemporalDevServerOnFreePort, type DevServer } from '../scripts/temporal';

/**
 * Starts one Temporal dev server and one Postgres for the whole run (unless DATABASE_URL is
 * given), and bundles the workflow code once. Suites find them through CANCELFLOW_TEST_* variables.
 */
declare global {
  var __cancelflowTestStack: { temporal: DevServer; postgres?: RunningPostgres; dir: string } | undefined;
}

export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-test-'));
  // The embedded Postgres runs as the postgres user when we are root: let it in.
  chmodSync(dir, 0o755);
  const log = (line: string): void => void process.stderr.write(`[test stack] ${line}\n`);

  const [postgres, temporal, bundle] = await Promise.all([
    process.env.DATABASE_URL
      ? Promise.resolve(undefined)
      : startEmbeddedPostgres({
          dataDir: path.join(dir, 'pg'),
          port: await freePort(),
          persistent: false,
          log,
        }),
    startTemporalDevServerOnFreePort({ log, logFile: path.join(dir, 'temporal.log') }),
    bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: undefined }),
  ]);

  const bundlePath = path.join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);

  process.env.CANCELFLOW_TEST_DATABASE_URL = process.env.DATABASE_URL ?? postgres!.url;
  process.env.CANCELFLOW_TEST_TEMPORAL_ADDRESS = temporal.address;
  process.env.CANCELFLOW_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.CANCELFLOW_TEST_DIR = dir;
  globalThis.__cancelflowTestStack = { temporal, ...(postgres ? { postgres } : {}), dir };
}
