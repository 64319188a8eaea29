import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { countAuditErrors, writeArtifacts } from './chaos/artifacts';
import { listExecutions, readHistories, readPostgres } from './chaos/collect';
import { describeConfig, loadChaosConfig } from './chaos/config';
import { runTimeline } from './chaos/faults';
import { checkInvariants, failingTaskKeys } from './chaos/invariants';
import { planOrders, runLoad } from './chaos/load';
import { faultTable, invariantTable, throughputTable } from './chaos/report';
import { filesUnder, scanFiles, scanPostgres, scanTemporalDatabases, secretNeedles } from './chaos/secrets';
import { settle } from './chaos/settle';
import { startTopology, teardownTopology, type TopologyParts } from './chaos/topology';

/**
 * `npm run chaos`: a production-like topology on this machine (Temporal dev server on a SQLite
 * file, embedded Postgres on a persistent data directory, both provider sandboxes behind call-
 * journalling proxies, a merchant receiver, two worker and two API processes), N cancellations
 * through both APIs with a mix of provider behaviours and faults, a fault timeline against the
 * topology, then the invariants and a secrets scan. Exit 0 only if every count is 0 (1: a
 * violation or a secret found; 2: the run itself failed). Settings: scripts/chaos/config.ts
 * (CHAOS_* variables); RELIABILITY.md has the numbers of a real run.
 */

const cfg = loadChaosConfig();
const runStart = Date.now();
const hardStop = runStart + cfg.budgetS * 1000;
mkdirSync(path.join(cfg.dir, 'logs'), { recursive: true });
chmodSync(cfg.dir, 0o755); // the embedded Postgres runs as the postgres user when we are root
const logDir = path.join(cfg.dir, 'logs');
let loadStart = 0;
function log(line: string): void {
  const t = loadStart ? `t+${((Date.now() - loadStart) / 1000).toFixed(0)}s` : 'setup';
  const text = `[chaos ${new Date().toISOString().slice(11, 19)} ${t}] ${line}\n`;
  process.stderr.write(text);
  appendFileSync(path.join(logDir, 'chaos.log'), text);
}
function out(lines: string[]): void {
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  appendFileSync(path.join(cfg.dir, 'report.txt'), text);
}
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

const parts: TopologyParts = { services: [] };
let stopping = false;

function ownSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping everything`);
      void teardownTopology(parts).finally(() => {
        if (!cfg.keep) rmSync(cfg.dir, { recursive: true, force: true });
        process.exit(130);
      });
    });
  }
}

async function main(): Promise<number> {
  ownSignals();
  out([
    'cancelflow chaos run',
    ...describeConfig(cfg),
    `machine: ${os.cpus().length} cores; uptime: ${execFileSync('uptime').toString().trim()}`,
    '',
  ]);
  const t = await startTopology(cfg, parts, log, ownSignals);
  log(`topology up in ${((Date.now() - runStart) / 1000).toFixed(0)} s`);

  const orders = planOrders({ ...cfg, ...t, notifyUrl: t.receiver.url });
  loadStart = Date.now();
  const loadStopAt = hardStop - 150_000;
  const [load, events] = await Promise.all([
    runLoad({
      orders,
      ratePerS: cfg.ratePerS,
      apiUrls: t.apiUrls,
      patienceMs: cfg.requestPatienceS * 1000,
      stopAt: loadStopAt,
      seed: cfg.seed,
      onProgress: (sent, accepted) =>
        log(`load: ${sent} requests sent, ${accepted} accepted (load ${loadavg()})`),
    }),
    runTimeline(cfg.faults, Date.now(), t, () => Date.now() > loadStopAt, log),
  ]);
  log(
    `load and faults done: ${load.records.length} requests in ${((load.endedAt - load.startedAt) / 1000).toFixed(0)} s` +
      (load.notSent ? `, ${load.notSent} not sent (budget)` : ''),
  );
  const settled = await settle(
    t.db,
    t.connection,
    Math.min(Date.now() + cfg.settleS * 1000, hardStop - 90_000),
    log,
  );
  log(
    settled.settled
      ? `settled in ${(settled.tookMs / 1000).toFixed(0)} s`
      : `NOT settled after ${(settled.tookMs / 1000).toFixed(0)} s: ${JSON.stringify(settled.last)}`,
  );
  const settledAt = Date.now();

  log('reading Postgres, visibility and every history ...');
  const needles = secretNeedles({
    appKeys: t.apps.map((a) => ({ name: a.name, key: a.key })),
    gatewayKey: t.keys.gatewayKey,
    webhookSecret: t.keys.webhookSecret,
    privatePem: t.keys.merchantPrivatePem,
  });
  const pg = await readPostgres(t.db);
  const tf = await readHistories(t.connection, await listExecutions(t.connection), needles);
  const pgScan = await scanPostgres(t.db, needles);
  const verdict = checkInvariants({
    ...t,
    ...cfg.timings,
    orders,
    records: load.records,
    pg,
    tf,
    journals: { payby: t.paybyProxy.journal, unified: t.unifiedProxy.journal },
    received: t.receiver.log,
    checkedAt: Date.now(),
  });
  writeArtifacts(cfg.dir, load.records, { payby: t.paybyProxy, unified: t.unifiedProxy });

  log('stopping the services, then scanning the Temporal database (file or tables) and every log ...');
  const services = [...t.workers, ...t.apis];
  const exits = services.map(
    (s) =>
      `${s.name}: ${s.starts.length} starts, ${s.unexpectedExits.length} exits of its own` +
      s.unexpectedExits
        .map((e) => ` (code ${e.code} signal ${e.signal} at ${new Date(e.at).toISOString()})`)
        .join(''),
  );
  if (t.temporal.ownExits) {
    const own = t.temporal.ownExits();
    exits.push(
      `Temporal services: ${own.length} exits of their own, each restarted` +
        own.map((e) => ` (${e.service} code ${e.code} at ${new Date(e.at).toISOString()})`).join(''),
    );
  }
  await Promise.allSettled(services.map((s) => s.stop()));
  await t.temporal.stop();
  verdict.info.push({
    name: "worker log lines 'could not record a provider exchange'",
    value: String(countAuditErrors(logDir)),
  });
  const files = await scanFiles(
    [
      ...filesUnder(cfg.dir, (n) => n.startsWith('temporal.sqlite')),
      ...filesUnder(logDir, (n) => n.endsWith('.log')),
    ],
    needles,
  );
  // The production engine keeps its state in the run's Postgres: its tables are scanned like ours.
  const engineScan = t.temporal.databases
    ? await scanTemporalDatabases(t.postgres.adminUrl, t.temporal.databases, needles)
    : undefined;
  const secretFindings = [
    ...(engineScan?.findings ?? []),
    ...[...tf.secretHits].map(([label, where]) => ({
      source: `${where.length} histories (e.g. ${where[0]})`,
      secrets: [label],
    })),
    ...pgScan.findings,
    ...files.findings,
  ];

  const accountOf = new Map(pg.rows.map((r) => [r.cancel_order_id, r.account_id]));
  const firstDelivery = new Map<string, number>();
  for (const n of t.receiver.log)
    if (n.answered === 'success' && !firstDelivery.has(n.body)) firstDelivery.set(n.body, n.at);
  const series = {
    finished: pg.finishedAt.map((f) => ({
      at: new Date(f.at).getTime(),
      account: accountOf.get(f.cancel_order_id) ?? '',
    })),
    delivered: [...firstDelivery.values()],
    records: load.records,
  };
  out([
    '',
    ...invariantTable(verdict, secretFindings.length),
    `  settled: ${settled.settled ? `yes, ${(settled.tookMs / 1000).toFixed(0)} s after the load` : `NO (${JSON.stringify(settled.last)})`}`,
    `  processes: ${exits.join(' | ')}`,
    '',
    `SECRETS SCAN: ${needles.size} needles; ${tf.historiesRead} histories (${tf.historyBytes} bytes), ` +
      `${pgScan.tables} tables (${pgScan.rows} rows), ` +
      (engineScan
        ? `the Temporal server's ${engineScan.tables} tables (${engineScan.rows} rows, text and bytea), `
        : '') +
      `${files.bytes} bytes of database file and logs`,
    ...(secretFindings.length
      ? secretFindings.map((f) => `  FOUND in ${f.source}: ${f.secrets.join(', ')}`)
      : ['  nothing found']),
    '',
    'FAULTS (times after the load started)',
    ...faultTable(events, series, loadStart),
    '',
    'THROUGHPUT',
    ...throughputTable(series, loadStart, load.sentUntil, settledAt),
    '',
    `machine load at the end: ${loadavg()}; run took ${((Date.now() - runStart) / 1000).toFixed(0)} s`,
  ]);
  writeFileSync(
    path.join(cfg.dir, 'report.json'),
    JSON.stringify({ config: cfg, verdict, secretFindings, events, exits, settled }, null, 2),
  );
  const failed = verdict.violations + secretFindings.length;
  // A failed workflow task is diagnosed from its history: the run directory may be deleted at the
  // end (CHAOS_KEEP=0), so the first few are also printed, base64 in the report.
  failingTaskKeys(tf)
    .slice(0, 3)
    .forEach((key, i) => {
      const history = tf.failedTaskHistories.get(key);
      if (!history || history.length > 2_000_000) return;
      const file = path.join(cfg.dir, `failed-task-${i + 1}.binpb`);
      writeFileSync(file, history);
      // Never copy a configured secret into the report (the scan above names it if one is there).
      if ([...tf.secretHits.values()].some((keys) => keys.includes(key))) return;
      out([
        '',
        `FAILED WORKFLOW TASK: ${key}, its history (${history.length} bytes) in ${file} and below, ` +
          'base64 of a protobuf History (base64 -d > h.binpb; node --import tsx scripts/history-events.ts h.binpb)',
        history.toString('base64'),
      ]);
    });
  out([
    failed === 0
      ? 'VERDICT: PASS (every invariant 0, no secret found)'
      : `VERDICT: FAIL (${verdict.violations} invariant violations, ${secretFindings.length} secret findings)`,
    `report: ${path.join(cfg.dir, 'report.txt')}`,
  ]);
  return failed === 0 ? 0 : 1;
}

void main()
  .catch((err: unknown) => {
    log(`chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return 2;
  })
  .then(async (code) => {
    stopping = true;
    await teardownTopology(parts);
    if (!cfg.keep) rmSync(cfg.dir, { recursive: true, force: true });
    process.exit(code);
  });
