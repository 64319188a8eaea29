import fc from 'fast-check';
import {
  ANSWER_SCOPE,
  decide as decideFor,
  INITIAL_DECISION_STATE,
  type AnswerSource,
  type DecisionState,
} from '../../contract/decision';
import { NOT_SENT } from '../../contract/failures';
import type { CancelOutcome } from '../../providers/types';

/**
 * The workflow's decision over any sequence of provider answers, against a model provider that
 * keeps the truth (was the cancel applied?) and answers it through faults: lost answers (after or
 * before applying), garbled, unsigned or misaddressed answers (all `unknown` once classified —
 * test/unit/classify-property.test.ts checks the classifiers say so), refusals of a repeated
 * cancel, pending states, and verified callbacks.
 *
 * Properties: the cancellation ends SUCCEEDED (state 2) only if the provider applied the cancel,
 * and FAILED/CLOSED (state 3/4) never after the provider applied it.
 */

type Fault =
  | 'none'
  | 'lost-applied'
  | 'lost-before'
  | 'garbled'
  | 'unsigned'
  | 'misaddressed'
  | 'http500'
  | 'not-sent'
  /** Applied, then an unsigned answer whose code is our own marker's word (PayBy's head.code "NOT_SENT"). */
  | 'coded-not-sent';

interface World {
  provider: 'payby' | 'unified';
  paid: boolean;
  rejectsUs: boolean;
  applied: boolean;
  /**
   * Unified: how the gateway answers a cancel of an order that already has a cancel order: with
   * that one, with an error, or by opening a new cancel order that then fails (state 3).
   */
  repeat: 'existing' | 'refuse' | 'new-failing';
  /** Unified: the cancel order whose id reached us in a verified answer (so it can be queried). */
  known?: 'first' | 'second';
  /** Unified: the gateway opened a second cancel order (repeat 'new-failing'). */
  second: boolean;
}

interface Step {
  fault: Fault;
  /** A gateway notification in this step is about the second cancel order. */
  callbackAboutSecond: boolean;
  /** Unified settles asynchronously: a verified answer may still say "in progress". */
  stillPending: boolean;
  callback: boolean;
}

const unknown = (reason: string): CancelOutcome => ({ kind: 'unknown', reason });

const secondFailed: CancelOutcome = { kind: 'refused', state: 3, code: '1002', message: 'Close exception' };

/** The request never left: its write-ahead audit row could not be written (activities/adapters.ts). */
const notSent: CancelOutcome = { kind: 'unknown', reason: 'not sent', code: NOT_SENT, notSent: true };
/** A provider's answer that says "NOT_SENT" in its own code: an answer, whatever its words. */
const codedNotSent: CancelOutcome = { kind: 'unknown', reason: 'unrecognised answer code', code: NOT_SENT };

function submit(w: World, s: Step): CancelOutcome {
  if (s.fault === 'not-sent') return notSent;
  if (s.fault === 'lost-before' || s.fault === 'http500') return unknown(s.fault);
  if (w.rejectsUs) return { kind: 'misconfigured', code: '403', message: 'UNAUTHORIZED' };
  const repeat = w.applied;
  if (!w.paid) w.applied = true;
  if (repeat && w.provider === 'unified' && w.repeat === 'new-failing') w.second = true;
  if (s.fault === 'coded-not-sent') return codedNotSent;
  if (s.fault !== 'none') return unknown(s.fault); // applied, then the answer was lost or unusable
  if (w.paid) return { kind: 'refused', state: 3, code: '62001', message: 'ORDER_PAID' };
  if (w.provider === 'payby')
    return repeat ? { kind: 'pending', state: 1, reason: 'ORDER_FAILURE' } : { kind: 'cancelled' };
  if (repeat && w.repeat === 'refuse')
    return { kind: 'refused', state: 3, code: '9999', message: 'order status not allowed' };
  if (repeat && w.repeat === 'new-failing') {
    w.known = 'second';
    return { kind: 'pending', state: 1, providerCancelId: 'G2' };
  }
  w.known = 'first';
  return s.stillPending ? { kind: 'pending', state: 1, providerCancelId: 'G1' } : { kind: 'cancelled' };
}

function query(w: World, s: Step): CancelOutcome {
  if (w.provider === 'unified' && !w.known)
    return { kind: 'resubmit', authoritative: false, reason: 'no upstream cancelOrderId to query' };
  if (s.fault === 'not-sent') return notSent;
  if (s.fault === 'coded-not-sent') return codedNotSent;
  if (s.fault !== 'none') return unknown(s.fault);
  if (w.rejectsUs) return { kind: 'misconfigured', code: '403', message: 'UNAUTHORIZED' };
  if (w.provider === 'unified' && w.known === 'second') return secondFailed;
  if (w.applied)
    return s.stillPending && w.provider === 'unified' ? { kind: 'pending', state: 1 } : { kind: 'cancelled' };
  if (w.paid) return { kind: 'refused', state: 3, code: '62001', message: 'ORDER_PAID' };
  return { kind: 'resubmit', authoritative: true, reason: 'order is CREATED' };
}

/** A verified gateway notification: about the first cancel order (the truth) or the second one. */
function callback(w: World, s: Step): CancelOutcome | undefined {
  if (w.provider !== 'unified') return undefined;
  if (w.second && s.callbackAboutSecond) return secondFailed;
  if (w.applied && !s.stillPending) return { kind: 'cancelled' };
  return undefined;
}

function run(w: World, steps: Step[]): 'SUCCEEDED' | 'FAILED' | 'UNRESOLVED' {
  let state: DecisionState = INITIAL_DECISION_STATE;
  const decide = (st: DecisionState, from: AnswerSource, o: CancelOutcome) =>
    decideFor(st, from, o, ANSWER_SCOPE[w.provider]);
  for (const s of steps) {
    let from: AnswerSource;
    let outcome: CancelOutcome;
    const notified = s.callback ? callback(w, s) : undefined;
    if (notified) {
      from = 'signal';
      outcome = notified;
    } else if (state.nextOp === 'submit') {
      from = 'submit';
      outcome = submit(w, s);
    } else {
      from = 'query';
      outcome = query(w, s);
    }
    const next = decide(state, from, outcome);
    if (next.action === 'finish') return next.outcome.kind === 'cancelled' ? 'SUCCEEDED' : 'FAILED';
    state = next.state;
  }
  return 'UNRESOLVED';
}

const worldArb = fc.record({
  provider: fc.constantFrom<'payby' | 'unified'>('payby', 'unified'),
  paid: fc.boolean(),
  rejectsUs: fc.boolean(),
  applied: fc.constant(false),
  repeat: fc.constantFrom<World['repeat']>('existing', 'refuse', 'new-failing'),
  second: fc.constant(false),
});
const stepArb = fc.record({
  fault: fc.constantFrom<Fault>(
    'none',
    'none',
    'lost-applied',
    'lost-before',
    'garbled',
    'unsigned',
    'misaddressed',
    'http500',
    'not-sent',
    'coded-not-sent',
  ),
  callbackAboutSecond: fc.boolean(),
  stillPending: fc.boolean(),
  callback: fc.boolean(),
});

test('state 2 only if the provider applied the cancel; never 3 after it did (any answers, any faults)', () => {
  fc.assert(
    fc.property(worldArb, fc.array(stepArb, { minLength: 1, maxLength: 30 }), (world, steps) => {
      const w = { ...world };
      const final = run(w, steps);
      if (final === 'SUCCEEDED') expect(w.applied).toBe(true);
      if (final === 'FAILED') expect(w.applied).toBe(false);
    }),
    { numRuns: 20_000 },
  );
});

test('every reachable end is possible: the model is not vacuous', () => {
  const ends = new Set<string>();
  fc.assert(
    fc.property(worldArb, fc.array(stepArb, { minLength: 1, maxLength: 30 }), (world, steps) => {
      const w = { ...world };
      ends.add(`${run(w, steps)}/${w.applied}`);
    }),
    { numRuns: 5_000 },
  );
  expect([...ends].sort()).toEqual(
    ['FAILED/false', 'SUCCEEDED/true', 'UNRESOLVED/false', 'UNRESOLVED/true'].sort(),
  );
});

const decide = (st: DecisionState, from: AnswerSource, o: CancelOutcome) =>
  decideFor(st, from, o, 'cancel-order');
const decidePayby = (st: DecisionState, from: AnswerSource, o: CancelOutcome) =>
  decideFor(st, from, o, 'order');

describe('the paths a hostile review found', () => {
  test('Unified: cancel applied, answer lost, the repeat refused → not final; the callback decides', () => {
    let s = INITIAL_DECISION_STATE;
    let d = decide(s, 'submit', unknown('socket hang up'));
    expect(d).toMatchObject({ action: 'continue', state: { nextOp: 'query', mayHaveLanded: true } });
    s = (d as { state: DecisionState }).state;
    d = decide(s, 'query', { kind: 'resubmit', authoritative: false, reason: 'no upstream id' });
    expect(d).toMatchObject({ action: 'continue', state: { nextOp: 'submit', mayHaveLanded: true } });
    s = (d as { state: DecisionState }).state;
    d = decide(s, 'submit', { kind: 'refused', state: 3, code: '9999', message: 'order status not allowed' });
    expect(d.action).toBe('continue');
    s = (d as { state: DecisionState }).state;
    expect(decide(s, 'signal', { kind: 'cancelled' }).action).toBe('finish');
  });

  test('a first refusal (nothing sent before) is final; misconfiguration is retryable only before anything may have landed', () => {
    expect(
      decide(INITIAL_DECISION_STATE, 'submit', {
        kind: 'refused',
        state: 3,
        code: '62001',
        message: 'ORDER_PAID',
      }).action,
    ).toBe('finish');
    expect(
      decide(INITIAL_DECISION_STATE, 'submit', { kind: 'misconfigured', code: '403', message: 'x' }).action,
    ).toBe('finish');
    expect(
      decide({ nextOp: 'submit', mayHaveLanded: true, lostSubmit: true }, 'submit', {
        kind: 'misconfigured',
        code: '403',
        message: 'x',
      }).action,
    ).toBe('continue');
  });

  test('a cancel that never left (its write-ahead audit row could not be written) changes nothing: sent again, and a first refusal after it is final', () => {
    for (const scope of ['order', 'cancel-order'] as const) {
      const d = decideFor(INITIAL_DECISION_STATE, 'submit', notSent, scope);
      expect(d).toMatchObject({
        action: 'continue',
        state: { nextOp: 'submit', mayHaveLanded: false, lostSubmit: false },
      });
      const state = (d as { state: DecisionState }).state;
      expect(
        decideFor(state, 'submit', { kind: 'refused', state: 3, code: '62001', message: 'ORDER_PAID' }, scope)
          .action,
      ).toBe('finish');
    }
    // After a cancel that may have landed, a not-sent repeat keeps the doubt.
    const doubt = { nextOp: 'submit', mayHaveLanded: true, lostSubmit: true } as const;
    expect(decide(doubt, 'submit', notSent)).toMatchObject({ state: doubt });
    // A provider's answer with the code NOT_SENT is not our marker: the cancel may have landed.
    for (const scope of ['order', 'cancel-order'] as const)
      expect(decideFor(INITIAL_DECISION_STATE, 'submit', codedNotSent, scope)).toMatchObject({
        action: 'continue',
        state: { nextOp: 'query', mayHaveLanded: true, lostSubmit: true },
      });
  });

  test('PayBy: a verified getOrder showing CREATED clears the doubt; the next refusal is final', () => {
    const after = decidePayby({ nextOp: 'query', mayHaveLanded: true, lostSubmit: true }, 'query', {
      kind: 'resubmit',
      authoritative: true,
      reason: 'CREATED',
    });
    expect(after).toMatchObject({ action: 'continue', state: { nextOp: 'submit', mayHaveLanded: false } });
    const state = (after as { state: DecisionState }).state;
    expect(
      decidePayby(state, 'submit', { kind: 'refused', state: 3, code: '62001', message: 'ORDER_PAID' })
        .action,
    ).toBe('finish');
  });

  test('PayBy: after a lost cancel, getOrder showing PAID decides (it is about the order itself)', () => {
    const lost = decidePayby(INITIAL_DECISION_STATE, 'submit', unknown('timeout'));
    const state = (lost as { state: DecisionState }).state;
    expect(
      decidePayby(state, 'query', { kind: 'refused', state: 3, code: '62001', message: 'ORDER_PAID' }).action,
    ).toBe('finish');
  });

  test('Unified: after a lost cancel, a refusal about some cancel order (a new one, or its callback) is not the verdict', () => {
    const lost = decide(INITIAL_DECISION_STATE, 'submit', unknown('timeout'));
    const state = (lost as { state: DecisionState }).state;
    expect(
      decide(state, 'query', { kind: 'refused', state: 3, code: '1002', message: 'Close exception' }).action,
    ).toBe('continue');
    expect(decide(state, 'signal', { kind: 'refused', state: 3, code: '1002', message: 'x' }).action).toBe(
      'continue',
    );
    // Without a lost cancel, the gateway's state 3 for our only cancel order is final.
    const pending = decide(INITIAL_DECISION_STATE, 'submit', {
      kind: 'pending',
      state: 1,
      providerCancelId: 'G1',
    });
    const clean = (pending as { state: DecisionState }).state;
    expect(decide(clean, 'query', { kind: 'refused', state: 3, code: '1002', message: 'x' }).action).toBe(
      'finish',
    );
  });
});
