import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../../scripts/chaos/processes';

/**
 * The chaos run's CI variant (`CHAOS_PROFILE=short`: 300 cancellations, one fault of each kind,
 * short phases), run as its own process the way `npm run chaos` runs: it must exit 0 with every
 * count of its invariants table at 0 and no secret found. The run starts its own Temporal server,
 * Postgres, sandboxes and processes; it is started in a process group of its own, so whatever
 * happens here (a failure, a timeout) the whole group is stopped: SIGTERM (the run tears its
 * topology down), then SIGKILL to the group.
 */

jest.setTimeout(600_000);

let child: ChildProcess | undefined;
let dir: string | undefined;

async function stopGroup(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => {
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, 60_000);
  await gone;
  clearTimeout(timer);
  try {
    process.kill(-p.pid, 'SIGKILL'); // anything of the group that outlived its parent
  } catch {
    // Nothing left.
  }
}

afterAll(async () => {
  if (child) await stopGroup(child);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

test('npm run chaos, short profile: every invariant holds (exit 0, a table of zeros)', async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-chaos-ci-'));
  const p = spawn(process.execPath, ['--import', 'tsx', 'scripts/chaos.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      CHAOS_PROFILE: 'short',
      CHAOS_DIR: path.join(dir, 'run'),
      CHAOS_KEEP: '0',
      NODE_OPTIONS: '',
    },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = p;
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => p.once('exit', (c) => resolve(c)));
  process.stderr.write(`\n[chaos-short] exit ${code}\n${stdout}\n`);
  if (code !== 0) process.stderr.write(`[chaos-short] its log:\n${stderr.slice(-20_000)}\n`);

  const table = stdout.slice(stdout.indexOf('INVARIANTS'), stdout.indexOf('MEASURED'));
  const rows = table
    .split('\n')
    .map((line) =>
      /^(lost|wrong|duplicates|notifications|stuck|unaudited|secrets)\s+(.*?)\s+(\d+)$/.exec(line),
    )
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ group: m[1], check: m[2], count: Number(m[3]) }));
  expect(new Set(rows.map((r) => r.group))).toEqual(
    new Set(['lost', 'wrong', 'duplicates', 'notifications', 'stuck', 'unaudited', 'secrets']),
  );
  expect(rows.filter((r) => r.count !== 0)).toEqual([]);
  expect(stdout).toContain('VERDICT: PASS');
  expect(code).toBe(0);
});
