import { cancellationWorkflowId } from '../../contract/ids';
import { verifyMd5Sign } from '../../providers/unified/sign';
import { notBenign, TERMINAL } from './collect';
import { indexSources, pairKey, type Sources } from './facts';
import { measures } from './measures';

/**
 * The promise, checked from every source after the run: nothing lost, nothing wrong, nothing
 * doubled, every finished cancellation notified (and nothing else), nothing stuck, every exchange
 * the provider saw audited. Each invariant is a count (0 = holds) with a few examples; the `info`
 * rows are measured and reported but are not violations.
 */

export interface Check {
  group: string;
  name: string;
  count: number;
  examples: string[];
}

export interface Verdict {
  checks: Check[];
  info: Array<{ name: string; value: string }>;
  violations: number;
}

/**
 * A recorded attempt's `started_at` is taken before its 'sending' row is written and `duration_ms`
 * measures only the exchange, so the recorded end can precede the receiver's clock by the write's
 * time: a delivery counts as "after the success was recorded" only this much later.
 */
const RECORD_SLACK_MS = 2_000;

/** The executions (workflowId/runId) with a failed workflow task of a cause that is not benign. */
export function failingTaskKeys(tf: Sources['tf']): string[] {
  return [...tf.taskFailures].filter(([, causes]) => causes.some(notBenign)).map(([key]) => key);
}

export function checkInvariants(s: Sources): Verdict {
  const checks: Check[] = [];
  const add = (group: string, name: string, examples: string[]) =>
    checks.push({ group, name, count: examples.length, examples: examples.slice(0, 5) });

  const ix = indexSources(s);
  const {
    rowById,
    activeByPair,
    keyOf,
    orderByKey,
    recordsOf,
    accepted,
    acceptedPairs,
    truth,
    label,
    byCancel,
  } = ix;
  const workflowIds = new Set(s.tf.executions.map((e) => e.workflowId));

  // lost
  add(
    'lost',
    'accepted (code 0), no row with the answered id',
    accepted
      .filter((r) => !rowById.has(r.cancelOrderId!))
      .map((r) => `${label(r.order)} → ${r.cancelOrderId}`),
  );
  add(
    'lost',
    'accepted, no active row for the (app, order)',
    acceptedPairs.filter((o) => !activeByPair.has(keyOf(o))).map(label),
  );
  add(
    'lost',
    'accepted, not terminal / UNRESOLVED after settling',
    acceptedPairs.flatMap((o) =>
      (activeByPair.get(keyOf(o)) ?? [])
        .filter((r) => !TERMINAL.includes(r.status) && r.status !== 'UNRESOLVED')
        .map((r) => `${label(o)}: ${r.cancel_order_id} ${r.status}`),
    ),
  );
  add(
    'lost',
    'accepted, no workflow in Temporal visibility',
    acceptedPairs
      .filter((o) => !workflowIds.has(cancellationWorkflowId(o.app.account, o.app, o.orderRef)))
      .map(label),
  );

  // wrong
  const wrongRows: string[] = [];
  for (const [k, rows] of activeByPair) {
    const o = orderByKey.get(k);
    for (const r of rows.filter((x) => TERMINAL.includes(x.status)))
      if (!o || truth.get(k) !== r.state)
        wrongRows.push(
          `${o ? label(o) : k}: row ${r.cancel_order_id} ${r.status}/${r.state}, provider ${truth.get(k)}`,
        );
  }
  add('wrong', 'final row state ≠ the provider sandbox', wrongRows);
  add(
    'wrong',
    'answer (code 0) final state ≠ the provider, or another order’s id',
    accepted
      .filter((r) => {
        const row = rowById.get(r.cancelOrderId!);
        const foreign = row && pairKey(row.mch_no, row.app_id, row.order_ref) !== keyOf(r.order);
        return foreign || (r.state! >= 2 && r.state !== truth.get(keyOf(r.order)));
      })
      .map(
        (r) =>
          `${label(r.order)}: answered ${r.cancelOrderId} state ${r.state}, provider ${truth.get(keyOf(r.order))}`,
      ),
  );
  add(
    'wrong',
    'answer signature does not verify with the app key',
    accepted.filter((r) => !r.signOk).map((r) => `${label(r.order)}: ${r.final?.text.slice(0, 200)}`),
  );
  const appOf = (mchNo?: string, appId?: string) =>
    s.apps.find((a) => a.mchNo === mchNo && a.appId === appId);
  add(
    'wrong',
    'notification state ≠ the provider, or bad signature',
    s.received
      .filter((n) => {
        const row = rowById.get(n.params.cancelOrderId ?? '');
        const app = appOf(n.params.mchNo, n.params.appId);
        if (!row || !app || !verifyMd5Sign(n.params, n.params.sign, app.key)) return true;
        return Number(n.params.state) !== truth.get(pairKey(row.mch_no, row.app_id, row.order_ref));
      })
      .map((n) => `${n.params.cancelOrderId} state ${n.params.state} (${n.notificationId})`),
  );

  // duplicates
  add(
    'duplicates',
    '(app, order) with two active cancellations',
    [...activeByPair]
      .filter(([, rows]) => rows.length > 1)
      .map(([k, rows]) => `${k}: ${rows.map((r) => r.cancel_order_id).join(' ')}`),
  );
  add(
    'duplicates',
    '(app, order) answered with two cancelOrderIds',
    [...recordsOf].flatMap(([k, rs]) => {
      const ids = new Set(rs.filter((r) => r.cancelOrderId).map((r) => r.cancelOrderId));
      return ids.size > 1 ? [`${k}: ${[...ids].join(' ')}`] : [];
    }),
  );
  const pairsOfId = new Map<string, Set<string>>();
  for (const r of accepted)
    pairsOfId.set(r.cancelOrderId!, (pairsOfId.get(r.cancelOrderId!) ?? new Set()).add(keyOf(r.order)));
  add(
    'duplicates',
    'one cancelOrderId answered for two orders',
    [...pairsOfId].filter(([, ks]) => ks.size > 1).map(([id, ks]) => `${id}: ${[...ks].join(' ')}`),
  );
  add(
    'duplicates',
    'transition seq written twice',
    s.pg.duplicateSeqs.map((d) => `${d.cancel_order_id} seq ${d.seq} ×${d.n}`),
  );
  const blind: string[] = [];
  for (const o of s.orders) {
    if (!o.sandboxRef) continue;
    const calls =
      o.provider === 'payby' ? s.payby.order(o.sandboxRef)?.calls : s.unified.order(o.sandboxRef)?.calls;
    if (!calls) continue;
    if (o.provider === 'unified') continue;
    for (let i = 1; i < calls.length; i++) {
      if (calls[i] !== 'cancel') continue;
      const prev = calls.lastIndexOf('cancel', i - 1);
      if (prev >= 0 && !calls.slice(prev + 1, i).includes('query')) {
        blind.push(`${label(o)}: calls ${calls.join(',')}`);
        break;
      }
    }
  }
  add('duplicates', 'PayBy cancel sent again with no query in between', blind);
  const idsOfNotification = new Map<string, Set<string>>();
  for (const n of s.received)
    idsOfNotification.set(
      n.notificationId ?? '(none)',
      (idsOfNotification.get(n.notificationId ?? '(none)') ?? new Set()).add(n.params.cancelOrderId ?? ''),
    );
  add(
    'duplicates',
    'one notification id on two cancellations',
    [...idsOfNotification]
      .filter(([, ids]) => ids.size > 1)
      .map(([id, ids]) => `${id}: ${[...ids].join(' ')}`),
  );

  // notifications
  add(
    'notifications',
    'terminal cancellation never delivered (no success)',
    s.pg.rows
      .filter((r) => !r.retired_at && r.notify_url && TERMINAL.includes(r.status))
      .filter((r) => !(byCancel.get(r.cancel_order_id) ?? []).some((n) => n.answered === 'success'))
      .map(
        (r) =>
          `${r.cancel_order_id} ${r.status} (${(byCancel.get(r.cancel_order_id) ?? []).length} attempts seen)`,
      ),
  );
  add(
    'notifications',
    'attempts with a different id or different bytes',
    [...byCancel]
      .filter(([, ns]) => new Set(ns.map((n) => `${n.notificationId}\u0000${n.body}`)).size > 1)
      .map(([id, ns]) => `${id}: ${ns.length} attempts`),
  );
  add(
    'notifications',
    'notification for an unfinished cancellation',
    [...byCancel]
      .filter(([id]) => !TERMINAL.includes(rowById.get(id)?.status ?? ''))
      .map(([id]) => `${id} (${rowById.get(id)?.status ?? 'no row'})`),
  );
  const successRecorded = new Map<string, number>();
  for (const a of s.pg.attempts)
    if (a.success) {
      const end = a.started_at.getTime() + (a.duration_ms ?? 0);
      successRecorded.set(
        a.notification_id,
        Math.min(successRecorded.get(a.notification_id) ?? Infinity, end),
      );
    }
  const afterSuccess: string[] = [];
  let duplicateSuccess = 0;
  const duplicateExamples: string[] = [];
  for (const [id, ns] of byCancel) {
    const recorded = successRecorded.get(ns[0]?.notificationId ?? '');
    const firstSuccess = ns.find((n) => n.answered === 'success');
    for (const n of ns) {
      if (recorded !== undefined && n.at > recorded + RECORD_SLACK_MS)
        afterSuccess.push(
          `${id}: attempt at ${new Date(n.at).toISOString()}, success recorded ${new Date(recorded).toISOString()}`,
        );
      else if (firstSuccess && n !== firstSuccess && n.at >= firstSuccess.at && n.answered === 'success') {
        duplicateSuccess += 1;
        if (duplicateExamples.length < 5) duplicateExamples.push(`${id} (${n.notificationId})`);
      }
    }
  }
  add('notifications', 'attempt after a success was recorded', afterSuccess);

  // stuck
  const now = s.checkedAt;
  const notifyBudget =
    s.notificationScheduleMs.reduce((a, b) => a + b, 0) + s.notificationScheduleMs.length * 30_000;
  add(
    'stuck',
    'workflow still running past its deadline (+ hold + 2 min)',
    s.tf.executions
      .filter((e) => e.status === 'RUNNING')
      .filter((e) =>
        e.type === 'notificationWorkflow'
          ? now - e.startedAt > notifyBudget + 120_000
          : e.type !== 'reconciliationWorkflow' &&
            now - e.startedAt > s.deadlineMs + s.unresolvedHoldMs + 120_000,
      )
      .map((e) => `${e.type} ${e.workflowId} started ${new Date(e.startedAt).toISOString()}`),
  );
  add(
    'stuck',
    'workflows with failed workflow tasks (non-determinism, panics)',
    failingTaskKeys(s.tf).map(
      (k) =>
        `${k}: ${s.tf.taskFailures.get(k)!.join(',')}` +
        (s.tf.taskFailureMessages.get(k)?.[0] ? ` (${s.tf.taskFailureMessages.get(k)![0]})` : ''),
    ),
  );

  // unaudited
  for (const [name, journal] of Object.entries(s.journals))
    add(
      'unaudited',
      `${name} exchanges the sandbox saw with no provider_calls row`,
      journal
        .filter((j) => j.fate === 'forwarded' && (!j.sign || !s.pg.callSigns.has(j.sign)))
        .map((j) => `${j.path} ${j.ref} at ${new Date(j.at).toISOString()} → ${j.status ?? 'dropped'}`),
    );

  const info = measures(s, ix, { duplicateSuccess, duplicateExamples });
  return { checks, info, violations: checks.reduce((sum, c) => sum + c.count, 0) };
}
