import type { SandboxFault } from './http';
import type { PaybyOrderBehaviour } from './payby';
import type { UnifiedOrderBehaviour } from './unified';

/**
 * Standalone sandboxes (`npm run sandbox`, the demo) have no test to set each order up, so an
 * order's behaviour is read from its reference (mchOrderNo or payOrderId), token by token,
 * separated by `-` (case-insensitive). No token: cancelled at once.
 *
 * | token          | behaviour                                                               |
 * |----------------|-------------------------------------------------------------------------|
 * | `paid`         | already paid: refused (PayBy 62001, Unified state 3 ORDER_PAID)         |
 * | `settled`      | already settled: refused (PayBy 62003, Unified state 3)                 |
 * | `failed`       | already failed (PayBy 62002 → getOrder FAILURE; Unified state 4)        |
 * | `notfound`     | no such order                                                           |
 * | `pending3`     | Unified: in progress for 3 queries, then cancelled                      |
 * | `slow500`      | Unified: in progress for 500 ms, then cancelled and notified            |
 * | `e500x2`       | HTTP 500 to the first 2 requests (also e402, e504)                      |
 * | `timeoutx1`    | no answer to the first request (also `resetx1`, `emptyx1`)              |
 * | `lost`         | cancel applied, its response lost                                       |
 * | `badsig`       | answers signed with the wrong key                                       |
 * | `garbage`      | malformed JSON answers                                                  |
 * | `misaddressed` | correctly signed answers that name another order                        |
 * | `refuserepeat` | Unified: a repeated cancel is refused (9999 "order status not allowed") |
 * | `paidago26h`   | PayBy: a paid order's paidTime is 26 hours ago (any 1-9999)             |
 * | `lostrevoke`   | PayBy: revoke applied, its response lost                                |
 * | `lostrefund`   | PayBy: refund recorded, its placeOrder response lost                    |
 * | `refundq3`     | PayBy: a refund answers CREATED to 3 refund queries, then SUCCESS       |
 * | `refundfail`   | PayBy: a refund ends FAILURE                                            |
 */
export interface Scenario {
  result: 'cancelled' | 'paid' | 'settled' | 'failed';
  notFound: boolean;
  pendingQueries?: number;
  settleAfterMs?: number;
  faults: SandboxFault[];
  lost: boolean;
  badSignature: boolean;
  malformedJson: boolean;
  misaddressed: boolean;
  repeatRefusal?: string;
  paidAgoHours?: number;
  lostRevoke: boolean;
  lostRefund: boolean;
  refundQueries?: number;
  refundFails: boolean;
}

const FAULTS: Record<string, SandboxFault> = {
  e402: 'http402',
  e500: 'http500',
  e504: 'http504',
  timeout: 'timeout',
  reset: 'reset',
  empty: 'empty',
};

export function scenarioOf(ref: string): Scenario {
  const scenario: Scenario = {
    result: 'cancelled',
    notFound: false,
    faults: [],
    lost: false,
    badSignature: false,
    malformedJson: false,
    misaddressed: false,
    lostRevoke: false,
    lostRefund: false,
    refundFails: false,
  };
  for (const token of ref.toLowerCase().split('-')) {
    let m: RegExpMatchArray | null;
    if (token === 'paid' || token === 'settled' || token === 'failed') scenario.result = token;
    else if (token === 'notfound') scenario.notFound = true;
    else if (token === 'lost') scenario.lost = true;
    else if (token === 'badsig') scenario.badSignature = true;
    else if (token === 'garbage') scenario.malformedJson = true;
    else if (token === 'misaddressed') scenario.misaddressed = true;
    else if (token === 'refuserepeat') scenario.repeatRefusal = 'order status not allowed';
    else if (token === 'lostrevoke') scenario.lostRevoke = true;
    else if (token === 'lostrefund') scenario.lostRefund = true;
    else if (token === 'refundfail') scenario.refundFails = true;
    else if ((m = /^refundq(\d{1,3})$/.exec(token))) scenario.refundQueries = Number(m[1]);
    else if ((m = /^paidago(\d{1,4})h$/.exec(token))) scenario.paidAgoHours = Number(m[1]);
    else if ((m = /^pending(\d{1,3})$/.exec(token))) scenario.pendingQueries = Number(m[1]);
    else if ((m = /^slow(\d{1,6})$/.exec(token))) scenario.settleAfterMs = Number(m[1]);
    else if ((m = /^(e402|e500|e504|timeout|reset|empty)x(\d{1,2})$/.exec(token)))
      scenario.faults.push(...Array<SandboxFault>(Number(m[2])).fill(FAULTS[m[1]!]!));
  }
  return scenario;
}

export function paybyBehaviourOf(ref: string): PaybyOrderBehaviour | undefined {
  const s = scenarioOf(ref);
  if (s.notFound) return undefined;
  const status = {
    cancelled: 'CREATED',
    paid: 'PAID_SUCCESS',
    settled: 'SETTLED',
    failed: 'FAILURE',
  } as const;
  return {
    status: status[s.result],
    faults: s.faults,
    loseCancelResponse: s.lost,
    badSignature: s.badSignature,
    malformedJson: s.malformedJson,
    misaddressed: s.misaddressed,
    ...(s.paidAgoHours !== undefined ? { paidAt: Date.now() - s.paidAgoHours * 3_600_000 } : {}),
    loseRevokeResponse: s.lostRevoke,
    loseRefundResponse: s.lostRefund,
    ...(s.refundQueries !== undefined ? { refundSucceedsAfterQueries: s.refundQueries } : {}),
    refundFails: s.refundFails,
  };
}

export function unifiedBehaviourOf(ref: string): UnifiedOrderBehaviour | undefined {
  const s = scenarioOf(ref);
  if (s.notFound) return undefined;
  return {
    result: s.result,
    ...(s.pendingQueries !== undefined ? { pendingQueries: s.pendingQueries } : {}),
    ...(s.settleAfterMs !== undefined ? { settleAfterMs: s.settleAfterMs } : {}),
    faults: s.faults,
    loseCancelResponse: s.lost,
    badSignature: s.badSignature,
    malformedJson: s.malformedJson,
    misaddressed: s.misaddressed,
    ...(s.repeatRefusal ? { repeatRefusal: s.repeatRefusal } : {}),
  };
}
