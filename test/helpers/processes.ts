import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/**
 * Real OS processes for tests, started the way production starts them
 * (`node --import tsx <entry>.ts`), with their output kept in memory to be shown only when a test
 * fails, and stopped with SIGTERM, then SIGKILL after a grace period. A process-exit hook kills
 * whatever is still running, so a crashed test run leaves nothing behind.
 */

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** stdout and stderr interleaved, at most the last `maxOutputChars` characters. */
  output(): string;
  /** Set once the process has exited. */
  exitInfo(): ExitInfo | undefined;
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

export interface StartProcessOptions {
  /** The complete environment of the child (nothing is inherited implicitly). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  maxOutputChars?: number;
}

const running = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of running) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

/** Starts `node --import tsx <entry>` (entry relative to the repository root). */
export function startTsProcess(name: string, entry: string, options: StartProcessOptions): ManagedProcess {
  installExitHook();
  const max = options.maxOutputChars ?? 2_000_000;
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${entry}`);
  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > max) output = output.slice(output.length - max);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (err) => {
      append(Buffer.from(`[spawn error] ${err.message}\n`));
    });
    child.once('close', (code, signal) => {
      info = { code, signal };
      running.delete(managed);
      resolve(info);
    });
  });
  const managed: ManagedProcess = {
    name,
    pid: child.pid,
    child,
    output: () => output,
    exitInfo: () => info,
    exited,
    stop: async (graceMs = 5_000) => {
      if (info) return info;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!info) child.kill('SIGKILL');
      }, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  running.add(managed);
  return managed;
}

/** Stops all of them at once (each SIGTERM, then SIGKILL after `graceMs`). */
export async function stopProcesses(processes: readonly ManagedProcess[], graceMs = 5_000): Promise<void> {
  await Promise.all(processes.map((p) => p.stop(graceMs)));
}

/** Every process's output under a header, for a failure report. */
export function describeProcesses(processes: readonly ManagedProcess[]): string {
  return processes
    .map((p) => {
      const exit = p.exitInfo();
      const state = exit ? `exited code=${exit.code} signal=${exit.signal}` : 'running';
      return `===== ${p.name} (pid ${p.pid}, ${state}) =====\n${p.output() || '(no output)\n'}`;
    })
    .join('\n');
}

/**
 * Polls `check` until it gives a value; fails early, with the process's output, if one of
 * `watch` exits meanwhile.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  options: { timeoutMs: number; intervalMs?: number; watch?: readonly ManagedProcess[] },
): Promise<T> {
  const end = Date.now() + options.timeoutMs;
  let lastError: string | undefined;
  for (;;) {
    const dead = options.watch?.find((p) => p.exitInfo());
    if (dead)
      throw new Error(
        `${what}: ${dead.name} exited (${JSON.stringify(dead.exitInfo())}) before that\n${dead.output()}`,
      );
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err instanceof Error ? err.message : JSON.stringify(err);
    }
    if (Date.now() > end)
      throw new Error(
        `${what}: not within ${options.timeoutMs} ms` + (lastError ? ` (last error: ${lastError})` : ''),
      );
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}

/** Waits until GET `url` answers 200. */
export function waitForHttpOk(
  url: string,
  options: { timeoutMs: number; watch?: readonly ManagedProcess[] },
): Promise<true> {
  return waitFor(
    `GET ${url}`,
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    },
    options,
  );
}
