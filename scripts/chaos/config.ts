import os from 'node:os';
import path from 'node:path';
import type { CancellationTimings } from '../../contract/cancellation';

/**
 * The chaos run's settings, from the environment (printed at start). Two profiles: `full` (the
 * default: 10,000 cancellations, the whole fault timeline) and `short` (CI: 300 cancellations, one
 * fault of each kind, short phases). Every setting can be overridden on its own.
 */

export const FAULT_KINDS = [
  'kill-worker',
  'kill-api',
  'restart-temporal',
  // The production engine's services, one at a time (CHAOS_TEMPORAL=server only).
  'restart-history',
  'restart-matching',
  'restart-postgres',
  'stall-payby',
  'stall-unified',
  'refuse-receiver',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface PlannedFault {
  /** Seconds after the load starts. */
  atS: number;
  kind: FaultKind;
  /**
   * kill-*: seconds before the restart; restart-*: seconds down; stall-* / refuse-receiver: how
   * long it lasts.
   */
  durationS: number;
}

export interface ChaosConfig {
  profile: 'full' | 'short';
  /** `dev`: `temporal server start-dev` on a SQLite file; `server`: the Temporal server on Postgres. */
  temporal: 'dev' | 'server';
  n: number;
  ratePerS: number;
  faultRate: number;
  repeatRate: number;
  seed: number;
  faults: PlannedFault[];
  /** Whole run, setup to verdict: past it the load stops and the checks run on what there is. */
  budgetS: number;
  /** How long to wait after the load for everything to finish (terminal rows, closed workflows). */
  settleS: number;
  /** A request answered 9999 or not at all is sent again (to the other API) for this long. */
  requestPatienceS: number;
  timings: CancellationTimings;
  /** Unified gateway: multiplier of the seed's 0/30/60/... s callback schedule. */
  gatewayNotifyScale: number;
  dir: string;
  keep: boolean;
}

const DEFAULT_TIMELINE: Record<'full' | 'short', string> = {
  // Fractions of the planned load duration (N / rate), then the duration in seconds. A worker is
  // also killed while Postgres is down (as in the first probe by hand): its runs' first writes hang
  // and another worker takes them over.
  full:
    '0.08:kill-worker:3,0.16:kill-api:3,0.25:restart-temporal:5,0.35:kill-worker:3,' +
    '0.45:restart-postgres:20,0.452:kill-worker:3,0.55:stall-payby:60,0.68:refuse-receiver:60,' +
    '0.80:stall-unified:60,' +
    '0.90:kill-worker:3',
  short:
    '0.08:kill-worker:2,0.18:kill-api:2,0.30:restart-temporal:3,0.42:restart-postgres:10,' +
    '0.45:kill-worker:2,0.55:stall-payby:50,0.66:refuse-receiver:30',
};

/** Added to the timeline on the production engine: its history and matching services restarted alone. */
const SERVER_FAULTS: Record<'full' | 'short', string> = {
  full: '0.28:restart-history:5,0.62:restart-matching:5',
  short: '0.24:restart-history:3,0.36:restart-matching:3',
};

function num(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${raw} is not a non-negative number`);
  return value;
}

/**
 * `at:kind[:duration]` items, comma-separated. `at` in seconds after the load starts, or a
 * fraction of the planned load duration when it is below 1 and has a decimal point ("0.25").
 */
export function parseTimeline(text: string, loadS: number): PlannedFault[] {
  if (text.trim() === '' || text.trim() === 'none') return [];
  return text
    .split(',')
    .map((item) => {
      const [at = '', kind = '', duration] = item.trim().split(':');
      if (!(FAULT_KINDS as readonly string[]).includes(kind))
        throw new Error(`CHAOS_FAULTS: "${item}": kind must be one of ${FAULT_KINDS.join(', ')}`);
      const atNumber = Number(at);
      if (!Number.isFinite(atNumber) || atNumber < 0) throw new Error(`CHAOS_FAULTS: "${item}": bad time`);
      const atS = at.includes('.') && atNumber < 1 ? Math.round(atNumber * loadS) : atNumber;
      const fallback = kind.startsWith('kill')
        ? 3
        : /^restart-(temporal|history|matching)$/.test(kind)
          ? 5
          : 60;
      const durationS = duration === undefined ? fallback : Number(duration);
      if (!Number.isFinite(durationS) || durationS < 0)
        throw new Error(`CHAOS_FAULTS: "${item}": bad duration`);
      return { atS, kind: kind as FaultKind, durationS };
    })
    .sort((a, b) => a.atS - b.atS);
}

function checkEngine(faults: PlannedFault[], temporal: 'dev' | 'server'): PlannedFault[] {
  const serverOnly = faults.find((f) => temporal === 'dev' && /^restart-(history|matching)$/.test(f.kind));
  if (serverOnly) throw new Error(`CHAOS_FAULTS: ${serverOnly.kind} needs CHAOS_TEMPORAL=server`);
  return faults;
}

export function loadChaosConfig(env: NodeJS.ProcessEnv = process.env): ChaosConfig {
  const profile = env.CHAOS_PROFILE === 'short' ? 'short' : 'full';
  const short = profile === 'short';
  const temporal = env.CHAOS_TEMPORAL ?? 'dev';
  if (temporal !== 'dev' && temporal !== 'server') throw new Error('CHAOS_TEMPORAL must be dev or server');
  const n = Math.floor(num(env, 'CHAOS_N', short ? 300 : 10_000));
  const ratePerS = num(env, 'CHAOS_RATE', short ? 3 : 20);
  if (n < 1 || ratePerS <= 0) throw new Error('CHAOS_N and CHAOS_RATE must be positive');
  const loadS = n / ratePerS;
  const deadlineMs = num(env, 'CHAOS_DEADLINE_S', short ? 150 : 600) * 1000;
  const schedule = (env.CHAOS_NOTIFY_SCHEDULE_MS ?? (short ? '0,5000,10000,20000,30000,40000' : ''))
    .split(',')
    .filter((s) => s.trim() !== '')
    .map(Number);
  const notificationScheduleMs =
    schedule.length > 0 ? schedule : [0, 30_000, 60_000, 90_000, 120_000, 150_000];
  if (notificationScheduleMs.some((v) => !Number.isInteger(v) || v < 0))
    throw new Error('CHAOS_NOTIFY_SCHEDULE_MS must be comma-separated milliseconds');
  const notifyTotalS = notificationScheduleMs.reduce((a, b) => a + b, 0) / 1000;
  const settleS = num(env, 'CHAOS_SETTLE_S', Math.ceil(deadlineMs / 1000 + notifyTotalS + 60));
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
  return {
    profile,
    temporal,
    n,
    ratePerS,
    faultRate: num(env, 'CHAOS_FAULT_RATE', 0.2),
    repeatRate: num(env, 'CHAOS_REPEAT_RATE', 0.1),
    seed: Math.floor(num(env, 'CHAOS_SEED', Date.now() % 1_000_000)),
    faults: checkEngine(
      parseTimeline(
        env.CHAOS_FAULTS ??
          (temporal === 'server'
            ? `${DEFAULT_TIMELINE[profile]},${SERVER_FAULTS[profile]}`
            : DEFAULT_TIMELINE[profile]),
        loadS,
      ),
      temporal,
    ),
    budgetS: num(env, 'CHAOS_BUDGET_S', short ? 540 : Math.ceil(3 * loadS + settleS + 1800)),
    settleS,
    requestPatienceS: num(env, 'CHAOS_REQUEST_PATIENCE_S', short ? 90 : 180),
    timings: {
      pollInitialMs: short ? 500 : 1_000,
      pollMaxMs: short ? 5_000 : 15_000,
      pollMultiplier: 2,
      deadlineMs,
      unresolvedHoldMs: 2_000,
      notificationScheduleMs,
    },
    gatewayNotifyScale: num(env, 'CHAOS_GATEWAY_NOTIFY_SCALE', 0.1),
    dir: path.resolve(env.CHAOS_DIR ?? path.join(os.tmpdir(), `cancelflow-chaos-${stamp}-${process.pid}`)),
    keep: env.CHAOS_KEEP !== undefined ? env.CHAOS_KEEP !== '0' : !short,
  };
}

export function describeConfig(c: ChaosConfig): string[] {
  const loadS = c.n / c.ratePerS;
  return [
    `Temporal: ${c.temporal === 'server' ? 'the Temporal server on Postgres (4 services)' : 'temporal server start-dev on a SQLite file'}`,
    `profile ${c.profile}: N=${c.n} cancellations at ${c.ratePerS}/s (≈${Math.round(loadS)} s of load), ` +
      `provider fault rate ${c.faultRate}, repeated requests ${c.repeatRate}, seed ${c.seed}`,
    `timings: poll ${c.timings.pollInitialMs}..${c.timings.pollMaxMs} ms ×${c.timings.pollMultiplier}, ` +
      `deadline ${c.timings.deadlineMs / 1000} s, notifications ${c.timings.notificationScheduleMs.map((v) => v / 1000).join('/')} s, ` +
      `gateway callbacks ×${c.gatewayNotifyScale} of the seed's schedule`,
    `budget ${c.budgetS} s in all, settle ≤ ${c.settleS} s, a request re-sent for ≤ ${c.requestPatienceS} s`,
    `fault timeline (s after the load starts):`,
    ...c.faults.map((f) => `  t+${String(f.atS).padStart(4)}  ${f.kind.padEnd(17)} ${f.durationS} s`),
    `run dir ${c.dir} (${c.keep ? 'kept' : 'deleted at the end'})`,
  ];
}
