import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import path from 'node:path';

/**
 * Real OS processes (the worker, the API), started the way production starts them
 * (`node --import tsx <entry>.ts`), with the tail of their output kept in memory (shown when a test
 * fails) and, if asked, every byte appended to a log file. Stopped with SIGTERM, then SIGKILL after a
 * grace period, or killed outright (`kill9`, for chaos). A process-exit hook kills whatever is still
 * running, so a crashed run leaves nothing behind. Shared by the integration tests and the chaos run.
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
  /** SIGKILL now (a crash); resolves once the process is gone. */
  kill9(): Promise<ExitInfo>;
}

export interface StartProcessOptions {
  /** The complete environment of the child (nothing is inherited implicitly). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  maxOutputChars?: number;
  /** Every byte of the output is appended here too. */
  logFile?: string;
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

/** Every process started here that is still running. */
export function runningProcesses(): ManagedProcess[] {
  return [...running];
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
  let file: WriteStream | undefined;
  if (options.logFile) {
    file = createWriteStream(options.logFile, { flags: 'a' });
    file.write(`===== ${new Date().toISOString()} ${name} started, pid ${child.pid} =====\n`);
  }
  let output = '';
  const append = (chunk: Buffer): void => {
    file?.write(chunk);
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
      if (file) {
        file.end(`===== ${new Date().toISOString()} ${name} exited code=${code} signal=${signal} =====\n`);
      }
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
    kill9: async () => {
      if (info) return info;
      child.kill('SIGKILL');
      return exited;
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
