import type { PlannedFault } from './config';
import type { PostgresServer, TemporalServer } from './infra';
import type { ProviderProxy } from './proxy';
import type { Receiver } from './receiver';
import type { Service } from './services';

/**
 * Plays the fault timeline against the running topology. Each fault starts at its time after the
 * load started (faults may overlap) and records when it was injected, when the component was back
 * (a restarted process ready, a server accepting again, a stall or refusal over) and what it hit.
 */

export interface FaultEvent {
  kind: PlannedFault['kind'];
  target: string;
  plannedAtS: number;
  durationS: number;
  injectedAt: number;
  /** The component is back: process ready / server up / stall or refusal over. */
  restoredAt?: number;
  error?: string;
}

export interface FaultTargets {
  workers: Service[];
  apis: Service[];
  temporal: TemporalServer;
  postgres: PostgresServer;
  paybyProxy: ProviderProxy;
  unifiedProxy: ProviderProxy;
  receiver: Receiver;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

async function inject(
  f: PlannedFault,
  t: FaultTargets,
  counters: Record<string, number>,
  event: FaultEvent,
): Promise<void> {
  const k = (counters[f.kind] = (counters[f.kind] ?? 0) + 1) - 1;
  switch (f.kind) {
    case 'kill-worker': {
      const w = t.workers[k % t.workers.length]!;
      event.target = `${w.name} (pid ${w.current().pid})`;
      await w.crash(f.durationS);
      return;
    }
    case 'kill-api': {
      const a = t.apis[k % t.apis.length]!;
      event.target = `${a.name} (pid ${a.current().pid})`;
      await a.crash(f.durationS);
      return;
    }
    case 'restart-temporal':
      event.target = t.temporal.describe();
      await t.temporal.restart(f.durationS);
      return;
    case 'restart-history':
    case 'restart-matching': {
      const service = f.kind === 'restart-history' ? 'history' : 'matching';
      if (!t.temporal.restartService) throw new Error(`${f.kind} needs CHAOS_TEMPORAL=server`);
      event.target = `the Temporal ${service} service of ${t.temporal.describe()}`;
      await t.temporal.restartService(service, f.durationS);
      return;
    }
    case 'restart-postgres':
      event.target = `postgres ${t.postgres.dataDir}`;
      await t.postgres.restart(f.durationS);
      return;
    case 'stall-payby':
    case 'stall-unified': {
      const proxy = f.kind === 'stall-payby' ? t.paybyProxy : t.unifiedProxy;
      event.target = `${f.kind.slice(6)} sandbox at ${proxy.url}`;
      proxy.stall(true);
      await sleep(f.durationS * 1000);
      proxy.stall(false);
      return;
    }
    case 'refuse-receiver':
      event.target = `merchant receiver ${t.receiver.url}`;
      t.receiver.refuse(true);
      await sleep(f.durationS * 1000);
      t.receiver.refuse(false);
      return;
  }
}

/** Runs every fault at its time; resolves when all are over. Faults not yet begun at `stopped()` are skipped. */
export async function runTimeline(
  faults: PlannedFault[],
  loadStartedAt: number,
  targets: FaultTargets,
  stopped: () => boolean,
  log: (line: string) => void,
): Promise<FaultEvent[]> {
  const events: FaultEvent[] = [];
  const counters: Record<string, number> = {};
  await Promise.all(
    faults.map(async (f) => {
      await sleep(loadStartedAt + f.atS * 1000 - Date.now());
      if (stopped()) return;
      const event: FaultEvent = {
        kind: f.kind,
        target: '',
        plannedAtS: f.atS,
        durationS: f.durationS,
        injectedAt: Date.now(),
      };
      events.push(event);
      log(`fault t+${f.atS}s: ${f.kind} (${f.durationS} s) ...`);
      try {
        await inject(f, targets, counters, event);
        event.restoredAt = Date.now();
        log(
          `fault t+${f.atS}s: ${f.kind} on ${event.target}: back after ` +
            `${((event.restoredAt - event.injectedAt) / 1000).toFixed(1)} s`,
        );
      } catch (err) {
        event.error = err instanceof Error ? err.message : String(err);
        log(`fault t+${f.atS}s: ${f.kind} FAILED: ${event.error}`);
      }
    }),
  );
  return events.sort((a, b) => a.injectedAt - b.injectedAt);
}
