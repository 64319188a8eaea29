import net from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A free port in [from, to] (tried at random). For servers that store a port in a signed 16-bit
 * column: the Temporal server keeps its membership ports in a Postgres `smallint` (≤ 32767), below
 * the kernel's ephemeral range that `freePort` draws from.
 */
export async function freePortIn(from: number, to: number, tries = 50): Promise<number> {
  for (let i = 0; i < tries; i++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.unref();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port in ${from}..${to} after ${tries} tries`);
}

export async function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port the dev stack will listen on. */
export interface PortNeed {
  /** What listens there, for the message. */
  what: string;
  port: number;
  /** The environment variable that moves it. */
  variable: string;
  /** The address it will bind. */
  host: string;
  /** Said after "set <variable> to another port" when the port is taken. */
  hint?: string;
}

/**
 * The ports `npm run dev` will listen on, read from its environment the way dev.ts, stack.ts and
 * the worker's config read them (same variables, same defaults): the API, Temporal and its UI
 * (unless TEMPORAL_ADDRESS), the embedded Postgres (unless DATABASE_URL), the worker's /metrics
 * and the Temporal SDK's exporter behind it (unless CANCELFLOW_METRICS_PORT=0).
 */
export function devStackPorts(env: NodeJS.ProcessEnv): PortNeed[] {
  const needs: PortNeed[] = [
    { what: 'the HTTP API', port: Number(env.PORT ?? 8080), variable: 'PORT', host: env.HOST || '127.0.0.1' },
  ];
  if (!env.TEMPORAL_ADDRESS) {
    const temporal = Number(env.CANCELFLOW_TEMPORAL_PORT ?? 7233);
    needs.push(
      {
        what: 'the Temporal dev server',
        port: temporal,
        variable: 'CANCELFLOW_TEMPORAL_PORT',
        host: '127.0.0.1',
        hint: `or, if it is a Temporal server you want to use, set TEMPORAL_ADDRESS=127.0.0.1:${temporal}`,
      },
      {
        what: 'the Temporal Web UI',
        port: Number(env.CANCELFLOW_TEMPORAL_UI_PORT ?? temporal + 1000),
        variable: 'CANCELFLOW_TEMPORAL_UI_PORT',
        host: '127.0.0.1',
      },
    );
  }
  if (!env.DATABASE_URL) {
    needs.push({
      what: 'the embedded Postgres',
      port: Number(env.CANCELFLOW_PG_PORT ?? 54329),
      variable: 'CANCELFLOW_PG_PORT',
      host: '127.0.0.1',
      hint: 'or DATABASE_URL to use a Postgres of your own; is another dev stack running?',
    });
  }
  const metrics = Number(env.CANCELFLOW_METRICS_PORT ?? 9464);
  if (metrics !== 0) {
    needs.push(
      {
        what: "the worker's /metrics",
        port: metrics,
        variable: 'CANCELFLOW_METRICS_PORT',
        host: env.CANCELFLOW_METRICS_HOST || '127.0.0.1',
        hint: '(0 turns the metrics off)',
      },
      {
        what: "the Temporal SDK's metrics exporter",
        port: Number(env.CANCELFLOW_SDK_METRICS_PORT ?? 9465),
        variable: 'CANCELFLOW_SDK_METRICS_PORT',
        host: '127.0.0.1',
      },
    );
  }
  return needs;
}

/** Undefined when `port` can be listened on at `host` right now, else why not (an error code). */
export async function listenProblem(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Every problem with `needs`, one line each, naming the variable that moves the port: a value that
 * is not a port number, two needs on one port, a port something else listens on. Empty when all is
 * well. `probe` is `listenProblem` unless a test gives another.
 */
export async function portProblems(
  needs: PortNeed[],
  probe: (port: number, host: string) => Promise<string | undefined> = listenProblem,
): Promise<string[]> {
  const problems: string[] = [];
  const claimed = new Map<number, PortNeed>();
  for (const need of needs) {
    if (!Number.isInteger(need.port) || need.port < 1 || need.port > 65535) {
      problems.push(`${need.variable} must be a port number (1-65535) for ${need.what}`);
      continue;
    }
    const other = claimed.get(need.port);
    if (other) {
      problems.push(
        `port ${need.port} is wanted by both ${other.what} (${other.variable}) and ${need.what} (${need.variable}): ` +
          `set one of them to another port`,
      );
      continue;
    }
    claimed.set(need.port, need);
    const problem = await probe(need.port, need.host);
    if (problem === undefined) continue;
    const why = problem === 'EADDRINUSE' ? 'is already in use' : `cannot be listened on (${problem})`;
    problems.push(
      `port ${need.port} (${need.what}) ${why}: set ${need.variable} to another port` +
        (need.hint ? ` ${need.hint}` : ''),
    );
  }
  return problems;
}

/** Throws one error listing every problem with `needs` (see `portProblems`); nothing when all are free. */
export async function assertPortsFree(
  needs: PortNeed[],
  probe?: (port: number, host: string) => Promise<string | undefined>,
): Promise<void> {
  const problems = await portProblems(needs, probe);
  if (problems.length > 0) {
    throw new Error(`the dev stack cannot start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}
