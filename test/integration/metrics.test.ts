import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createCancelflowClient } from '../../client';
import {
  NOTIFICATION_FAILURE_REASONS,
  notificationFailureReason,
  registerDatabaseGauges,
} from '../../common/metrics';
import { signEnvelope } from '../../providers/unified/sign';
import type { reconciliationWorkflow } from '../../workflows/reconciliation';
import { createWorld, eventually, FAST_TIMINGS, PAYBY_APP, UNIFIED_APP, type World } from '../helpers/world';

/**
 * What ops/ graphs and pages on is what the stack serves: a live stack runs a few cancellations
 * and a reconciliation, the API's /metrics is scraped, and every metric name used by the
 * dashboard's expressions and the alert rules must be in it (as samples, or announced by its
 * HELP/TYPE lines: prom-client announces a registered metric before its first sample).
 */

const OPS = path.resolve(__dirname, '..', '..', 'ops');

/** Series Prometheus makes itself; never in a scrape. */
const MADE_BY_PROMETHEUS = new Set(['up']);

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or']);
const PROMQL_WORDS_TOO = new Set(['unless', 'bool', 'offset', 'inf', 'nan']);

/** The metric names a PromQL expression reads (Grafana's `$variables` allowed). */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
    .replace(/\$\{?\w+\}?/g, '');
  return [...bare.matchAll(/(?<![\w:.])([A-Za-z_:][\w:]*)\b(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((name) => !PROMQL_WORDS.has(name.toLowerCase()) && !PROMQL_WORDS_TOO.has(name.toLowerCase()));
}

/** Every `expr` of the dashboard's panels, and the metrics its template variables list labels of. */
function dashboardQueries(): { exprs: string[]; variableMetrics: string[] } {
  const dashboard = JSON.parse(readFileSync(path.join(OPS, 'grafana-dashboard.json'), 'utf8'));
  const exprs: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object')
      for (const [key, value] of Object.entries(node)) {
        if (key === 'expr' && typeof value === 'string') exprs.push(value);
        else walk(value);
      }
  };
  walk(dashboard.panels);
  const variableMetrics = (dashboard.templating.list as Array<{ definition: string }>).map(
    (v) => /^label_values\(\s*([A-Za-z_:][\w:]*)/.exec(v.definition)![1]!,
  );
  return { exprs, variableMetrics };
}

/**
 * The rules' expressions. No YAML parser is a dependency of the project, so the rules file keeps
 * every `expr:` on one line and this reads those lines; a block scalar would fail here.
 */
function alertRules(): Array<{ alert: string; expr: string }> {
  const text = readFileSync(path.join(OPS, 'prometheus-alerts.yml'), 'utf8');
  const alerts = [...text.matchAll(/^\s*- alert:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
  const exprs = [...text.matchAll(/^\s*expr:\s*(.*)$/gm)].map((m) => m[1]!.trim());
  expect(exprs).toHaveLength(alerts.length);
  for (const expr of exprs) expect(expr).not.toMatch(/^[|>]/);
  return alerts.map((alert, i) => ({ alert, expr: exprs[i]!.replace(/^'(.*)'$/, '$1') }));
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A Prometheus text exposition: the names it announces or has samples of, and its samples. */
function parseScrape(text: string): { names: Set<string>; samples: Sample[] } {
  const names = new Set<string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      names.add(name);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
      if (kind === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
      continue;
    }
    if (!line || line.startsWith('#')) continue;
    const sample = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!sample) throw new Error(`not a sample line: ${line}`);
    names.add(sample[1]!);
    const labels = Object.fromEntries(
      [...(sample[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return { names, samples };
}

const find = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

let world: World;

beforeAll(async () => {
  world = await createWorld();
  // What api/main.ts and worker/main.ts do; the in-process API and worker share one registry.
  registerDatabaseGauges(world.database.db, { accounts: world.config.accounts });
});
afterAll(async () => {
  await world?.close();
});

async function scrape(): Promise<{ text: string; names: Set<string>; samples: Sample[] }> {
  const res = await fetch(`${world.apiUrl}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, ...parseScrape(text) };
}

describe('ops/: the dashboard and the alert rules read what a live stack serves', () => {
  test('the files are what Grafana and Prometheus load, and read real metrics', () => {
    const dashboard = JSON.parse(readFileSync(path.join(OPS, 'grafana-dashboard.json'), 'utf8'));
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource' }),
    ]);
    const panels = (dashboard.panels as Array<{ type: string; datasource?: { uid: string } }>).filter(
      (p) => p.type !== 'row',
    );
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) expect(panel.datasource?.uid).toBe('${DS_PROMETHEUS}');

    const rules = alertRules();
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'CancellationsUnresolved',
        'NotificationRoundsFailed',
        'ProviderUnknownOutcomes',
        'CancelflowWorkerAbsent',
      ]),
    );
    // The extraction finds what the rules say, not nothing.
    expect(rules.find((r) => r.alert === 'CancelflowWorkerAbsent')!.expr).toContain(
      'up{job="cancelflow-worker"}',
    );
    expect(metricNamesIn(rules.find((r) => r.alert === 'ProviderUnknownOutcomes')!.expr)).toEqual([
      'cancelflow_provider_call_seconds_count',
      'cancelflow_provider_call_seconds_count',
      'cancelflow_provider_call_seconds_count',
    ]);
    expect(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (le, route) (rate(cancelflow_api_request_duration_seconds_bucket{route=~"$r"}[$__rate_interval]))) > 1e3 and time() - x_total offset 5m',
      ),
    ).toEqual(['cancelflow_api_request_duration_seconds_bucket', 'x_total']);
  });

  test('after cancellations through the API and a reconciliation run, every metric they use is in /metrics', async () => {
    const startedAt = Date.now();
    // PayBy, through the northbound API: cancelled at once.
    world.payby.setOrder('MT-1', { status: 'CREATED', amount: 12.5, currency: 'AED' });
    const params = signEnvelope(PAYBY_APP, PAYBY_APP.key, { reqTime: Date.now(), mchOrderNo: 'MT-1' });
    const answer = await fetch(`${world.apiUrl}/api/pay/cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(params),
    });
    expect(((await answer.json()) as { code: number }).code).toBe(0);
    expect((await fetch(`${world.apiUrl}/no/such/route`)).status).toBe(404);

    // Unified, through the client: in progress for two queries, then cancelled.
    const pay = world.unified.setOrder({ result: 'cancelled', pendingQueries: 2 });
    const unified = await world.cancelflow.startCancellation({ ...UNIFIED_APP, payOrderId: pay });
    expect((await world.cancelflow.waitForResult(unified.workflowId)).status).toBe('SUCCEEDED');

    // PayBy answers we cannot verify: UNRESOLVED at a short deadline.
    world.payby.setOrder('MT-forged', { status: 'CREATED', badSignature: true });
    const short = createCancelflowClient({
      client: world.temporal.client,
      config: world.config,
      timings: { ...FAST_TIMINGS, deadlineMs: 2_000, unresolvedHoldMs: 10 },
    });
    const forged = await short.startCancellation({ ...PAYBY_APP, mchOrderNo: 'MT-forged' });
    await eventually(async () => (await short.getCancellation(forged.workflowId)).status === 'UNRESOLVED');

    const reconciled = await world.temporal.client.workflow.execute<typeof reconciliationWorkflow>(
      'reconciliationWorkflow',
      {
        workflowId: `reconcile/metrics-${world.temporal.taskQueue}`,
        taskQueue: world.temporal.taskQueue,
        args: [{ from: startedAt - 1_000, to: Date.now() + 1_000 }],
      },
    );
    expect(reconciled.counts.MATCHED).toBeGreaterThanOrEqual(2);

    // The gauges read Postgres at most every 5 s: scrape until the UNRESOLVED one is there.
    const { names, samples, text } = await eventually(async () => {
      const scraped = await scrape();
      const unresolved = find(scraped.samples, 'cancelflow_cancellations_unresolved', {
        account: 'payby-test',
      });
      return unresolved[0]?.value === 1 && scraped;
    }, 20_000);

    const { exprs, variableMetrics } = dashboardQueries();
    const used = new Map<string, string>();
    for (const expr of exprs) for (const name of metricNamesIn(expr)) used.set(name, 'the dashboard');
    for (const name of variableMetrics) used.set(name, 'a dashboard variable');
    for (const rule of alertRules())
      for (const name of metricNamesIn(rule.expr)) used.set(name, `alert ${rule.alert}`);
    expect(used.size).toBeGreaterThan(15);
    const missing = [...used]
      .filter(([name]) => !MADE_BY_PROMETHEUS.has(name) && !names.has(name))
      .map(([name, where]) => `${name} (${where})`);
    expect(missing).toEqual([]);
    // Announced even before anything counted them (wired into workflows and activities elsewhere).
    for (const name of [
      'cancelflow_cancellations_started_total',
      'cancelflow_cancellations_finished_total',
      'cancelflow_notification_rounds_total',
      'cancelflow_reconciliation_items_total',
    ])
      expect(text).toContain(`# TYPE ${name} counter`);

    // What this run did, by the labels the dashboard groups by.
    expect(
      find(samples, 'cancelflow_provider_call_seconds_count', {
        provider: 'payby',
        account: 'payby-test',
        operation: 'cancel',
        outcome: 'cancelled',
      })[0]?.value,
    ).toBeGreaterThanOrEqual(1);
    expect(
      find(samples, 'cancelflow_provider_call_seconds_count', {
        account: 'unified-test',
        operation: 'query',
        outcome: 'pending',
      })[0]?.value,
    ).toBeGreaterThanOrEqual(2);
    expect(
      find(samples, 'cancelflow_provider_call_seconds_count', { account: 'payby-test', outcome: 'unknown' })
        .length,
    ).toBeGreaterThanOrEqual(1);
    expect(
      find(samples, 'cancelflow_api_request_duration_seconds_count', {
        method: 'POST',
        route: '/api/pay/cancel',
        status_class: '2xx',
      })[0]?.value,
    ).toBe(1);
    expect(
      find(samples, 'cancelflow_api_request_duration_seconds_count', {
        method: 'GET',
        route: 'unmatched',
        status_class: '4xx',
      })[0]?.value,
    ).toBe(1);
    // From Postgres: every configured account has series (0 rather than a gap).
    expect(find(samples, 'cancelflow_cancellations_unresolved', { account: 'unified-test' })[0]?.value).toBe(
      0,
    );
    expect(
      find(samples, 'cancelflow_cancellations_in_flight', { account: 'unified-test' })
        .map((s) => s.labels.status)
        .sort(),
    ).toEqual(['PENDING', 'RECEIVED', 'SUBMITTED']);
    const finished = find(samples, 'cancelflow_reconciliation_last_run_finished_timestamp_seconds', {
      scope: 'all',
    })[0]?.value;
    expect(finished).toBeGreaterThanOrEqual(startedAt / 1000 - 1);
    expect(finished).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    const seconds = find(samples, 'cancelflow_reconciliation_last_run_duration_seconds', { scope: 'all' })[0]
      ?.value;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThan(60);
    expect(find(samples, 'cancelflow_database_gauge_errors_total', {})[0]?.value).toBe(0);
  });
});

describe('notification round failure reasons', () => {
  test('each way a last attempt fails has its own bounded label value', () => {
    const cases: Array<[Parameters<typeof notificationFailureReason>[0], string]> = [
      [undefined, 'no_attempt'],
      [{ state: 'unknown', http_status: null, error: 'outcome unknown: interrupted' }, 'outcome_unknown'],
      [{ state: 'done', http_status: null, error: 'refused: private address' }, 'refused_by_policy'],
      [{ state: 'done', http_status: null, error: 'timeout' }, 'no_answer'],
      [{ state: 'done', http_status: 503, error: 'HTTP 503: not a 2xx answer' }, 'http_status'],
      [{ state: 'done', http_status: 200, error: 'answer is not "success" (HTTP 200)' }, 'bad_answer'],
    ];
    for (const [last, reason] of cases) expect(notificationFailureReason(last)).toBe(reason);
    expect(new Set(cases.map(([, r]) => r))).toEqual(new Set(NOTIFICATION_FAILURE_REASONS));
  });
});
