/** The Temporal server's binaries (`temporal-server`, `temporal-sql-tool`): found, cached, or built by Go. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, findGo, isExecutable } from '../temporal';

/** The server the CLI of scripts/temporal.ts embeds: its module is already in the Go cache. */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';

type Log = (line: string) => void;

export interface ServerBinaries {
  server: string;
  sqlTool: string;
}

/** `TEMPORAL_SERVER_DIR` (holding `temporal-server` and `temporal-sql-tool`), the cache, or a build with Go. */
export function resolveTemporalServer(
  env: NodeJS.ProcessEnv = process.env,
  log: Log = console.error,
): ServerBinaries {
  const dir =
    env.TEMPORAL_SERVER_DIR ?? path.join(cacheDir(env), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const binaries = {
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
  };
  if (isExecutable(binaries.server) && isExecutable(binaries.sqlTool)) return binaries;
  if (env.TEMPORAL_SERVER_DIR)
    throw new Error(`TEMPORAL_SERVER_DIR=${dir} does not hold temporal-server and temporal-sql-tool`);
  const go = findGo(env);
  if (!go)
    throw new Error(
      'no Temporal server binaries and no Go toolchain to build them (set TEMPORAL_SERVER_DIR)',
    );
  mkdirSync(dir, { recursive: true });
  const staging = mkdtempSync(path.join(dir, '.build-'));
  log(
    `Building the Temporal server ${TEMPORAL_SERVER_VERSION} and its SQL tool from ${TEMPORAL_SERVER_MODULE} into ${dir} (once per machine) ...`,
  );
  const started = Date.now();
  try {
    const result = spawnSync(
      go,
      [
        'install',
        '-trimpath',
        '-ldflags',
        '-s -w',
        `${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`,
        `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...env, GOBIN: staging, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
      },
    );
    if (result.status !== 0)
      throw new Error(`go install of the Temporal server failed (exit ${result.status ?? result.signal})`);
    renameSync(path.join(staging, 'server'), binaries.server);
    renameSync(path.join(staging, 'sql'), binaries.sqlTool);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  log(`Built the Temporal server in ${Math.round((Date.now() - started) / 1000)} s.`);
  return binaries;
}
