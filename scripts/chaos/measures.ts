import { pairKey, unifiedRepeatedCancels, type Index, type Sources } from './facts';

/**
 * What a run measured besides the invariants (not violations): requests and their answers, final
 * statuses, UNRESOLVED by behaviour, Unified repeated cancels, duplicate deliveries, what the
 * proxies and the receiver saw, visibility and histories, workflow-task failures by cause.
 */
export function measures(
  s: Sources,
  ix: Index,
  d: { duplicateSuccess: number; duplicateExamples: string[] },
): Array<{ name: string; value: string }> {
  const { activeByPair, orderByKey, recordsOf, accepted, truth } = ix;
  const { duplicateSuccess, duplicateExamples } = d;
  const statuses = new Map<string, number>();
  for (const r of s.pg.rows) if (!r.retired_at) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  const benign = new Map<string, number>();
  for (const causes of s.tf.taskFailures.values())
    for (const c of causes) benign.set(c, (benign.get(c) ?? 0) + 1);
  const firsts = s.records.filter((r) => r.kind === 'first');
  const unresolvedBy = new Map<string, number>();
  for (const [k, rows] of activeByPair)
    for (const r of rows)
      if (r.status === 'UNRESOLVED') {
        const b = orderByKey.get(k)?.behaviour ?? 'unplanned';
        unresolvedBy.set(b, (unresolvedBy.get(b) ?? 0) + 1);
      }
  const unresolvedDecided = s.pg.rows.filter(
    (r) =>
      !r.retired_at &&
      r.status === 'UNRESOLVED' &&
      truth.get(pairKey(r.mch_no, r.app_id, r.order_ref)) !== null,
  ).length;
  const notAccepted = [...recordsOf].filter(([, rs]) => !rs.some((r) => r.acceptedAt)).map(([k]) => k);
  const allAttempts = s.records.flatMap((r) => r.attempts);
  return [
    {
      name: 'orders planned / requests sent (incl. repeats)',
      value: `${s.orders.length} / ${s.records.length}`,
    },
    {
      name: 'requests accepted (code 0) / never accepted (patience ran out)',
      value:
        `${accepted.length} / ${s.records.length - accepted.length}` +
        ` (first requests never accepted: ${firsts.filter((r) => !r.acceptedAt).length})`,
    },
    {
      name: 'answers 9999 / transport errors / other codes (re-sent)',
      value: `${allAttempts.filter((a) => a.code === 9999).length} / ${allAttempts.filter((a) => a.error).length} / ${allAttempts.filter((a) => a.code !== undefined && a.code !== 0 && a.code !== 9999).length}`,
    },
    {
      name: '(app, order) never accepted: with a row after all / without',
      value: `${notAccepted.filter((k) => activeByPair.has(k)).length} / ${notAccepted.filter((k) => !activeByPair.has(k)).length}`,
    },
    {
      name: 'UNRESOLVED by behaviour',
      value:
        [...unresolvedBy]
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none',
    },
    {
      name: 'UNRESOLVED although the provider had decided (left to reconciliation)',
      value: String(unresolvedDecided),
    },
    { name: 'active rows by status', value: [...statuses].map(([k, v]) => `${k} ${v}`).join(', ') },
    {
      name: 'Unified repeated cancels (how a gateway is asked; not a violation)',
      value: String(unifiedRepeatedCancels(s)),
    },
    {
      name: 'duplicate successful deliveries (at-least-once; receiver dedups by id)',
      value: `${duplicateSuccess}${duplicateExamples.length ? ` e.g. ${duplicateExamples.join(', ')}` : ''}`,
    },
    {
      name: 'notification attempts seen by the receiver (refused during the fault)',
      value: `${s.received.length} (${s.received.filter((n) => n.answered === 'refused').length})`,
    },
    {
      name: 'provider requests seen by the proxies: forwarded / held by a stall',
      value: ['payby', 'unified']
        .map((p) => {
          const j = s.journals[p as 'payby'];
          return `${p} ${j.filter((e) => e.fate === 'forwarded').length} / ${j.filter((e) => e.fate === 'stalled').length}`;
        })
        .join(', '),
    },
    { name: 'provider_calls rows', value: String(s.pg.providerCalls) },
    {
      name: 'executions in visibility / histories read (bytes)',
      value: `${s.tf.executions.length} / ${s.tf.historiesRead} (${s.tf.historyBytes})`,
    },
    {
      name: 'failed workflow tasks by cause (all)',
      value: [...benign].map(([k, v]) => `${k} ${v}`).join(', ') || 'none',
    },
  ];
}
