/** A production entry point (worker/main.ts, api/main.ts) run as a child process, with its RSS. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../stack';
import { env } from './knobs';

/**
 * User + system CPU seconds from a /proc/<pid>/stat line (proc(5): utime and stime, fields 14 and
 * 15, in clock ticks of USER_HZ, 100 on Linux: read it over seconds, not milliseconds). The fields
 * are counted after the command name's closing parenthesis: the name may hold spaces and ')'.
 */
export function cpuSecondsOfStat(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) throw new Error(`not a /proc stat line: ${stat}`);
  return (utime + stime) / 100;
}

/**
 * A production entry point (worker/main.ts, api/main.ts) as a child process, so its CPU and
 * memory are its own; ready when `ready(output)` says so. RSS is read from /proc.
 */
export async function startProcess(
  entry: string,
  childEnv: Record<string, string>,
  ready: (output: string) => Promise<boolean>,
) {
  // BENCH_PROFILE_DIR: each process writes a V8 CPU profile there on exit (scripts/profile-summary.ts reads it).
  const profile = env.BENCH_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${env.BENCH_PROFILE_DIR}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', path.join(REPO_ROOT, entry)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...childEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  let output = '';
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-8_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  for (;;) {
    if (exitCode !== undefined)
      throw new Error(`${entry} exited (${exitCode}) before it was ready:\n${output}`);
    if (await ready(output)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    pid: child.pid!,
    rss(): number {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
    },
    /** CPU seconds (user + system) the process has used so far ({@link cpuSecondsOfStat}). */
    cpuSeconds(): number {
      return cpuSecondsOfStat(readFileSync(`/proc/${child.pid}/stat`, 'utf8'));
    },
    async stop(): Promise<void> {
      if (exitCode === undefined) child.kill('SIGTERM');
      await exited;
    },
  };
}
