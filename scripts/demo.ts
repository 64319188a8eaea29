import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Table from 'cli-table3';
import { signEnvelope } from '../providers/unified/sign';
import { isSettled } from '../contract/cancellation';
import { SANDBOX_APPS, startStandaloneSandboxes } from '../sandbox/standalone';
import { REPO_ROOT } from './stack';

/**
 * `npm run demo`: the whole stack (Temporal + UI, Postgres, worker, API) with both provider
 * sandboxes, a batch of cancellations sent through the northbound Unified Cancel API the way a
 * merchant would, progress while they run, a final table, and a Temporal UI link with a filter.
 * `--exit` stops everything after the table (CI); otherwise the stack stays up for exploring.
 */

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Each order's behaviour is in its reference (sandbox/scenarios.ts); `nack` makes our receiver refuse. */
/**
 * Why each final state is what it is (the table's last column): the same fact reads differently at
 * each provider, and a reader should not have to guess.
 */
const WHY: Record<string, string> = {
  'payby ok': 'PayBy answered FAILURE (cancelled), signed',
  'payby paid': 'PayBy refused 62001: a paid order cannot be cancelled (revoke/refund is a policy)',
  'payby settled': 'PayBy refused 62003: settled, only a refund reverses it',
  'payby failed': 'PayBy 62002: already FAILURE; getOrder confirmed it, so the order is cancelled',
  'payby notfound': 'PayBy 62004: no such merchant order',
  'payby e500x2': 'unknown twice: asked (getOrder) before sending again, then cancelled',
  'payby timeoutx1': 'no answer once: asked before sending again, then cancelled',
  'payby lost': 'the cancel landed but its answer was lost: getOrder showed it cancelled',
  'payby badsig': 'no answer verified: never a success; UNRESOLVED at the deadline',
  'unified ok': 'the gateway answered state 2, signed',
  'unified pending3': 'state 1 three times, then 2 by query',
  'unified slow1500': "state 1, then the gateway's verified notification said 2",
  'unified paid': 'the gateway answered state 3 (its own refusal: ORDER_PAID)',
  'unified failed': 'the gateway answered state 4 (closed: the order had already failed)',
  'unified lost': 'answer lost: the repeated cancel returned the same cancel order, state 2',
  'unified garbage': 'no answer readable: never a success; UNRESOLVED at the deadline',
  'payby ok-nack': 'cancelled; the merchant refused every notification (6 attempts)',
};

const ORDERS: Array<{ provider: 'payby' | 'unified'; scenario: string; what: string }> = [
  { provider: 'payby', scenario: 'ok', what: 'cancelled at once' },
  { provider: 'payby', scenario: 'paid', what: 'already paid' },
  { provider: 'payby', scenario: 'settled', what: 'already settled' },
  { provider: 'payby', scenario: 'failed', what: 'already failed, confirmed by getOrder' },
  { provider: 'payby', scenario: 'notfound', what: 'unknown order' },
  { provider: 'payby', scenario: 'e500x2', what: 'HTTP 500 twice, then fine' },
  { provider: 'payby', scenario: 'timeoutx1', what: 'no answer once' },
  { provider: 'payby', scenario: 'lost', what: 'cancel applied, response lost' },
  { provider: 'payby', scenario: 'badsig', what: 'answers signed with a wrong key' },
  { provider: 'unified', scenario: 'ok', what: 'cancelled at once' },
  { provider: 'unified', scenario: 'pending3', what: 'in progress for 3 queries' },
  { provider: 'unified', scenario: 'slow1500', what: 'in progress 1.5 s, gateway callback' },
  { provider: 'unified', scenario: 'paid', what: 'already paid' },
  { provider: 'unified', scenario: 'failed', what: 'already failed (closed)' },
  { provider: 'unified', scenario: 'lost', what: 'cancel applied, response lost' },
  { provider: 'unified', scenario: 'garbage', what: 'malformed JSON answers' },
  { provider: 'payby', scenario: 'ok-nack', what: 'merchant endpoint refuses notifications' },
];

async function main(): Promise<void> {
  const exitAfter = process.argv.includes('--exit');
  const dir = path.resolve(process.env.CANCELFLOW_DATA_DIR ?? path.join(REPO_ROOT, '.data', 'demo'));
  const port = Number(process.env.PORT ?? 8080);
  const apiUrl = `http://127.0.0.1:${port}`;

  const sandboxes = await startStandaloneSandboxes({ dir, notifyScale: 0.02 });
  say(`PayBy sandbox ${sandboxes.payby.url}, Unified sandbox ${sandboxes.unified.url}`);

  // The merchant's notification endpoint.
  const notifications = new Map<string, { attempts: number; delivered: boolean }>();
  const receiver = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      const params = Object.fromEntries(new URLSearchParams(raw));
      const id = params.cancelOrderId ?? '?';
      const entry = notifications.get(id) ?? { attempts: 0, delivered: false };
      entry.attempts += 1;
      const refuse = (params.extraParam ?? '').includes('nack');
      entry.delivered ||= !refuse;
      notifications.set(id, entry);
      res.end(refuse ? 'fail' : 'success');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;

  // Demo timings: everything real, just faster than production.
  const configPath = path.join(dir, 'cancelflow.demo.json');
  const config = {
    ...sandboxes.config,
    accounts: (sandboxes.config.accounts as object[]).map((a) => ({ ...a, responseTimeoutMs: 3_000 })),
    timings: {
      pollInitialMs: 500,
      pollMaxMs: 2_000,
      deadlineMs: 15_000,
      unresolvedHoldMs: 5 * 60_000,
      notificationScheduleMs: [0, 1_000, 2_000, 3_000, 4_000, 5_000],
    },
    api: { cancelWaitMs: 2_000 },
  };
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);

  // The demo reads progress from the API's /ops endpoints, which need a token.
  const opsToken = process.env.CANCELFLOW_OPS_TOKEN || randomBytes(24).toString('base64url');
  const opsHeaders = { authorization: `Bearer ${opsToken}` };

  say('starting the stack (npm run dev) ...');
  const dev = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'scripts', 'dev.ts')], {
    env: {
      ...process.env,
      CANCELFLOW_OPS_TOKEN: opsToken,
      CANCELFLOW_CONFIG: configPath,
      CANCELFLOW_DATA_DIR: dir,
      PORT: String(port),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  let devOut = '';
  dev.stdout.on('data', (c: Buffer) => {
    devOut += c.toString('utf8');
    process.stdout.write(c);
  });
  const stop = async (code: number) => {
    if (dev.exitCode === null && dev.signalCode === null) {
      const exited = new Promise((resolve) => dev.once('exit', resolve));
      dev.kill('SIGTERM');
      await exited;
    }
    receiver.close();
    await sandboxes.close();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));
  dev.once('exit', (code) => {
    if (!devOut.includes('stack is up')) {
      say(`the stack did not start (exit ${code ?? '?'})`);
      void stop(1);
    }
  });
  const started = Date.now();
  while (!devOut.includes('stack is up')) {
    if (Date.now() - started > 10 * 60_000) throw new Error('the stack did not come up in 10 minutes');
    await new Promise((r) => setTimeout(r, 250));
  }
  const uiUrl = /Temporal UI\s+(http\S+)/.exec(devOut)?.[1];

  // Send the batch as a merchant would: signed seed-000 requests.
  const run = Date.now().toString(36).toUpperCase();
  const keyOf = (provider: 'payby' | 'unified') =>
    readFileSync(path.join(dir, 'keys', `${provider}-app.key`), 'utf8').trim();
  const rows: Array<{ ref: string; provider: string; what: string; cancelOrderId?: string; error?: string }> =
    [];
  for (const [i, order] of ORDERS.entries()) {
    const app = SANDBOX_APPS[order.provider];
    const ref = `D${run}${i}-${order.scenario}`;
    const params = signEnvelope(app, keyOf(order.provider), {
      mchOrderNo: ref,
      notifyUrl,
      extParam: order.scenario,
    });
    const res = await fetch(`${apiUrl}/api/pay/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    const answer = (await res.json()) as { code: number; msg: string; data?: { cancelOrderId: string } };
    rows.push({
      ref,
      provider: order.provider,
      what: order.what,
      ...(answer.data
        ? { cancelOrderId: answer.data.cancelOrderId }
        : { error: `${answer.code} ${answer.msg}` }),
    });
    say(
      `  sent ${ref.padEnd(22)} → ${answer.data ? answer.data.cancelOrderId : `${answer.code} ${answer.msg}`}`,
    );
  }

  // Progress until every cancellation is final and every notification settled.
  const status = new Map<string, { status: string; state: number; errCode?: string; errMsg?: string }>();
  const deadline = Date.now() + 3 * 60_000;
  for (;;) {
    for (const row of rows) {
      if (!row.cancelOrderId || isSettled(status.get(row.cancelOrderId)?.status ?? '')) continue;
      const res = await fetch(`${apiUrl}/ops/cancellations/${row.cancelOrderId}`, { headers: opsHeaders });
      if (res.ok) status.set(row.cancelOrderId, (await res.json()) as { status: string; state: number });
    }
    const ids = rows.flatMap((r) => (r.cancelOrderId ? [r.cancelOrderId] : []));
    const final = ids.filter((id) => isSettled(status.get(id)?.status ?? '')).length;
    const settled = ids.filter((id) => {
      const s = status.get(id)?.status;
      const n = notifications.get(id);
      return s === 'UNRESOLVED' || n?.delivered || (n?.attempts ?? 0) >= 6;
    }).length;
    process.stdout.write(
      `\r  progress: ${final}/${ids.length} final, ${settled}/${ids.length} notifications settled   `,
    );
    if ((final === ids.length && settled === ids.length) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  say('');

  const table = new Table({
    head: ['order', 'provider', 'scenario', 'final state', 'errCode / errMsg', 'notification', 'why'],
  });
  for (const row of rows) {
    const s = row.cancelOrderId ? status.get(row.cancelOrderId) : undefined;
    const n = row.cancelOrderId ? notifications.get(row.cancelOrderId) : undefined;
    table.push([
      row.ref,
      row.provider,
      row.what,
      row.error ?? (s ? `${s.status} (state ${s.state})` : 'unknown'),
      s?.errCode ? `${s.errCode} ${s.errMsg ?? ''}`.trim() : '',
      s?.status === 'UNRESOLVED'
        ? 'none (not final)'
        : n?.delivered
          ? `delivered (attempt ${n.attempts})`
          : n
            ? `failed after ${n.attempts} attempts`
            : 'not yet',
      WHY[`${row.provider} ${row.ref.split('-').slice(1).join('-')}`] ?? '',
    ]);
  }
  say(table.toString());
  if (uiUrl) {
    const query = `CancelState = "UNRESOLVED"`;
    say(`Temporal UI: ${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
    say(
      `            all of them: ${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent('WorkflowType = "cancellationWorkflow"')}`,
    );
  }
  // The worker's /metrics: cancelflow's own series and the Temporal SDK's.
  try {
    const metrics = await (
      await fetch(`http://127.0.0.1:${process.env.CANCELFLOW_METRICS_PORT ?? 9464}/metrics`)
    ).text();
    const series = (prefix: string) => metrics.split('\n').filter((l) => l.startsWith(prefix)).length;
    say(
      `worker /metrics: ${series('cancelflow_')} cancelflow series, ${series('temporal_')} Temporal SDK series`,
    );
  } catch (err) {
    say(`worker /metrics unavailable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (exitAfter) return stop(0);
  say('The stack stays up; Ctrl-C stops it.');
  if (!process.env.CANCELFLOW_OPS_TOKEN)
    say(`Ops endpoints: curl -H "Authorization: Bearer ${opsToken}" ${apiUrl}/ops/cancellations`);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
