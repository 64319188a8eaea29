import type { SearchAttributePair } from '@temporalio/common';
import type { CancellationInput } from '../contract/cancellation';
import { CancelAccount, CancelMchNo, CancelOrderRef, CancelProvider, CancelState } from './search-attributes';

/** What identifies a cancellation's run in the Temporal UI and its lists: part of its input. */
export type CancellationLabels = Pick<
  CancellationInput,
  'accountId' | 'provider' | 'mchNo' | 'appId' | 'order' | 'orderRef' | 'notifyUrl'
>;

/**
 * A cancellation run's summary, details and first search attributes, as every starter gives them
 * (the client, and a repair that records a completed cancellation in a new run): the Temporal UI
 * shows the same thing however the run began. The workflow adds its state as it goes.
 */
export function cancellationStartLabels(
  l: CancellationLabels,
  state = 'RECEIVED',
): { staticSummary: string; staticDetails: string; typedSearchAttributes: SearchAttributePair[] } {
  const { payOrderId, mchOrderNo } = l.order;
  return {
    staticSummary: `cancel ${l.orderRef} at ${l.provider} (${l.accountId}) for ${l.mchNo}/${l.appId}`,
    staticDetails: [
      `**provider** ${l.provider}, account \`${l.accountId}\``,
      `**order** ${payOrderId ? `payOrderId ${payOrderId}` : ''}${payOrderId && mchOrderNo ? ', ' : ''}${mchOrderNo ? `mchOrderNo ${mchOrderNo}` : ''}`,
      `**app** ${l.mchNo} / ${l.appId}`,
      l.notifyUrl ? `**notifies** ${l.notifyUrl}` : '**notifies** nobody (no notifyUrl)',
    ].join('\n\n'),
    typedSearchAttributes: [
      { key: CancelAccount, value: l.accountId },
      { key: CancelProvider, value: l.provider },
      { key: CancelState, value: state },
      { key: CancelOrderRef, value: l.orderRef },
      { key: CancelMchNo, value: l.mchNo },
    ],
  };
}
