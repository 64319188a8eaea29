import {
  classifyItem,
  isRepairOutcome,
  providerView,
  refundAnswer,
  revokeAnswer,
  uncheckable,
  type ProviderAnswer,
  type ReconciliationRow,
} from '../../activities/reconciliation/classify';
import type { CancelOutcome, FollowUpOutcome, RefundFacts } from '../../providers/types';
import type { CancellationStatus } from '../../contract/cancellation';

const NOW = Date.UTC(2026, 10, 30, 12);
const HOUR = 3_600_000;
const at = { now: NOW, staleAfterHours: 24 };

function ours(status: CancellationStatus, state: number, extra: Partial<ReconciliationRow> = {}) {
  return { status, state, err_code: null, created_at: new Date(NOW - HOUR), ...extra };
}

const answer = (outcome: CancelOutcome): ProviderAnswer => ({ outcome, view: providerView(outcome) });

const cancelled: CancelOutcome = { kind: 'cancelled', successTime: NOW };
const refused = (code: string, state: 3 | 4 = 3): CancelOutcome => ({
  kind: 'refused',
  state,
  code,
  message: code,
});
/** A refusal the classifier marked "the provider does not know the order". */
const notFound = (code: string): CancelOutcome => ({ ...refused(code), notFound: true }) as CancelOutcome;
const refunded: RefundFacts = { refundMerchantOrderNo: 'R1', status: 'SUCCESS' };
const pending: CancelOutcome = { kind: 'pending', state: 1 };
const resubmit: CancelOutcome = { kind: 'resubmit', reason: 'CREATED', authoritative: true };

describe('providerView: what an answer says about the cancel', () => {
  test.each<[string, CancelOutcome, ReturnType<typeof providerView>]>([
    ['cancelled', cancelled, { kind: 'terminal', state: 2 }],
    ['refused, state 3', refused('62002'), { kind: 'terminal', state: 3 }],
    ['refused, state 4 (closed)', refused('CLOSED', 4), { kind: 'terminal', state: 4 }],
    ['refused 62004 (no such order)', notFound('62004'), { kind: 'missing' }],
    ['refused 62035 (no such order)', notFound('62035'), { kind: 'missing' }],
    // Only the classifier says "not found"; a code alone in an answer is read as the refusal it is.
    ['refused with a not-found code, unmarked', refused('62004'), { kind: 'terminal', state: 3 }],
    ['pending', pending, { kind: 'open' }],
    ['resubmit', resubmit, { kind: 'open' }],
    [
      'unknown, marked not found (a gateway query: "order does not exist")',
      { kind: 'unknown', reason: 'query refused: code 9999 order does not exist', notFound: true },
      { kind: 'missing' },
    ],
    [
      'unknown, unmarked, whatever its words',
      { kind: 'unknown', reason: 'HTTP 404: Not Found' },
      { kind: 'unknown', reason: 'HTTP 404: Not Found' },
    ],
    ['unknown, timeout', { kind: 'unknown', reason: 'timeout' }, { kind: 'unknown', reason: 'timeout' }],
    [
      'misconfigured',
      { kind: 'misconfigured', code: '403', message: 'forbidden' },
      { kind: 'unknown', reason: '403: forbidden' },
    ],
  ])('%s', (_name, outcome, view) => {
    expect(providerView(outcome)).toEqual(view);
  });
});

describe('classifyItem: our row against the provider', () => {
  test.each<[string, ReturnType<typeof ours>, CancelOutcome, string, number | null]>([
    ['both cancelled', ours('SUCCEEDED', 2), cancelled, 'MATCHED', 2],
    ['both refused', ours('FAILED', 3), refused('62002'), 'MATCHED', 3],
    ['ours failed, theirs cancelled', ours('FAILED', 3), cancelled, 'MISMATCHED', 2],
    ['ours closed, theirs refused 3', ours('CLOSED', 4), refused('62002'), 'MISMATCHED', 3],
    ['ours pending, theirs cancelled', ours('PENDING', 1), cancelled, 'REPAIRED', 2],
    ['ours unresolved, theirs refused', ours('UNRESOLVED', 1), refused('62002'), 'REPAIRED', 3],
    [
      'not found, and we failed with not found',
      ours('FAILED', 3, { err_code: '62004' }),
      notFound('62004'),
      'MATCHED',
      null,
    ],
    ['not found, we succeeded', ours('SUCCEEDED', 2), notFound('62004'), 'MISSING_AT_PROVIDER', null],
    ['not found, we are pending', ours('PENDING', 1), notFound('62035'), 'MISSING_AT_PROVIDER', null],
    ['both pending, fresh', ours('PENDING', 1), pending, 'MATCHED', 1],
    [
      'both pending, stale',
      ours('PENDING', 1, { created_at: new Date(NOW - 25 * HOUR) }),
      pending,
      'STILL_PENDING',
      1,
    ],
    ['ours failed, theirs not cancelled', ours('FAILED', 3), resubmit, 'MATCHED', 0],
    ['ours succeeded, theirs not cancelled', ours('SUCCEEDED', 2), resubmit, 'MISMATCHED', 0],
    ['ours succeeded, theirs pending', ours('SUCCEEDED', 2), pending, 'MISMATCHED', 1],
  ])('%s → %s', (_name, row, outcome, cls, providerState) => {
    expect(classifyItem(row, answer(outcome), at)).toEqual({ cls, providerState });
  });

  test('an answer we cannot read is an ERROR with its reason, whatever our row says', () => {
    expect(classifyItem(ours('PENDING', 1), answer({ kind: 'unknown', reason: 'HTTP 502' }), at)).toEqual({
      cls: 'ERROR',
      providerState: null,
      reason: 'HTTP 502',
    });
  });
});

describe('follow-ups of a paid order', () => {
  test('revoke: getOrder 62040 (revoked) is a cancel, and matches our state 2', () => {
    const read = revokeAnswer(answer(refused('62040')), NOW);
    expect(read).toEqual({
      outcome: { kind: 'cancelled', successTime: NOW },
      view: { kind: 'terminal', state: 2 },
    });
    expect(classifyItem(ours('SUCCEEDED', 2), read, at)).toEqual({ cls: 'MATCHED', providerState: 2 });
  });

  test.each(['62001', '62003'])('revoke: getOrder %s (still paid) is not final, never a refusal', (code) => {
    const read = revokeAnswer(answer(refused(code)), NOW);
    expect(read.view).toEqual({ kind: 'open' });
    expect(classifyItem(ours('PENDING', 1), read, at)).toEqual({ cls: 'MATCHED', providerState: 0 });
  });

  test('revoke: getOrder FAILURE without revoked:"true" contradicts our revoke: MISMATCHED, never repaired', () => {
    const read = revokeAnswer(answer({ kind: 'cancelled', successTime: NOW }), NOW);
    expect(read.view).toMatchObject({ kind: 'contradicts', state: 2 });
    expect(classifyItem(ours('SUCCEEDED', 2), read, at)).toMatchObject({
      cls: 'MISMATCHED',
      providerState: 2,
    });
    expect(classifyItem(ours('PENDING', 1), read, at)).toMatchObject({ cls: 'MISMATCHED', providerState: 2 });
  });

  test('revoke: any other answer reads as it is', () => {
    const asked = answer({ kind: 'unknown', reason: 'timeout' });
    expect(revokeAnswer(asked, NOW)).toBe(asked);
  });

  const asked = refused('62003');
  test.each<[string, FollowUpOutcome, ProviderAnswer]>([
    [
      'refund SUCCESS is a cancel with the refund id',
      { kind: 'done', effect: 'refunded', successTime: NOW, refund: refunded },
      {
        outcome: { kind: 'cancelled', channelOrderNo: 'R1', successTime: NOW },
        view: { kind: 'terminal', state: 2 },
      },
    ],
    [
      'refund FAILURE is a refusal, state 3',
      { kind: 'refused', code: 'REFUND_FAILED', message: 'failed' },
      {
        outcome: { kind: 'refused', state: 3, code: 'REFUND_FAILED', message: 'failed' },
        view: { kind: 'terminal', state: 3 },
      },
    ],
    [
      'refund CREATED is not final, and in flight at PayBy',
      { kind: 'pending', reason: 'CREATED' },
      { outcome: asked, view: { kind: 'open', inFlight: 'refund R1 still CREATED' } },
    ],
    [
      'no refund under our id is not final',
      { kind: 'resubmit', reason: 'no refund', authoritative: true },
      { outcome: asked, view: { kind: 'open' } },
    ],
    [
      'a refund answer we cannot read is unknown',
      { kind: 'unknown', reason: 'timeout' },
      { outcome: asked, view: { kind: 'unknown', reason: 'refund R1: unknown' } },
    ],
  ])('%s', (_name, refund, expected) => {
    expect(refundAnswer(refund, 'R1', asked)).toEqual(expected);
  });

  test('refund CREATED at PayBy: STILL_PENDING at any age, never repaired', () => {
    const read = refundAnswer({ kind: 'pending', reason: 'CREATED' }, 'R1', asked);
    expect(classifyItem(ours('PENDING', 1), read, at).cls).toBe('STILL_PENDING');
    const old = ours('PENDING', 1, { created_at: new Date(NOW - 48 * HOUR) });
    expect(classifyItem(old, read, at).cls).toBe('STILL_PENDING');
    expect(isRepairOutcome(read.outcome) && read.view.kind === 'terminal').toBe(false);
  });

  test('refund done against our pending row: REPAIRED with a final outcome', () => {
    const read = refundAnswer(
      { kind: 'done', effect: 'refunded', successTime: NOW, refund: refunded },
      'R1',
      asked,
    );
    expect(classifyItem(ours('PENDING', 1), read, at)).toEqual({ cls: 'REPAIRED', providerState: 2 });
    expect(isRepairOutcome(read.outcome)).toBe(true);
  });
});

describe('uncheckable and isRepairOutcome', () => {
  test.each<[string, 'payby' | 'unified' | undefined, string | null, string | undefined]>([
    ['no account', undefined, null, 'account acc is not configured'],
    ['PayBy asks by order', 'payby', null, undefined],
    [
      'Unified without the gateway id',
      'unified',
      null,
      'no gateway cancelOrderId recorded: the gateway cannot be queried',
    ],
    ['Unified with the gateway id', 'unified', 'G1', undefined],
  ])('%s', (_name, provider, providerCancelId, why) => {
    expect(uncheckable({ account_id: 'acc', provider_cancel_id: providerCancelId }, provider)).toBe(why);
  });

  test.each<[CancelOutcome | undefined, boolean]>([
    [cancelled, true],
    [refused('62002'), true],
    [pending, false],
    [resubmit, false],
    [{ kind: 'unknown', reason: 'x' }, false],
    [{ kind: 'misconfigured', code: '403', message: 'x' }, false],
    [undefined, false],
  ])('%j repairs: %s', (outcome, repairs) => {
    expect(isRepairOutcome(outcome)).toBe(repairs);
  });
});
