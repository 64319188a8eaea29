import fc from 'fast-check';
import {
  decide,
  INITIAL_DECISION_STATE,
  type AnswerSource,
  type DecisionState,
} from '../../contract/decision';
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

type Fault = 'none' | 'lost-applied' | 'lost-before' | 'garbled' | 'unsigned' | 'misaddressed' | 'http500';

interface World {
  provider: 'payby' | 'unified';
  paid: boolean;
  rejectsUs: boolean;
  applied: boolean;
  /** Unified: the gateway's cancel id reached us in a verified answer, so it can be queried. */
  knowsCancelId: boolean;
}

interface Step {
  fault: Fault;
  /** Unified answers a repeated cancel with the existing cancel order (true) or an error. */
  repeatAnswersExisting: boolean;
  /** Unified settles asynchronously: a verified answer may still say "in progress". */
  stillPending: boolean;
  callback: boolean;
}

const unknown = (reason: string): CancelOutcome => ({ kind: 'unknown', reason });

function submit(w: World, s: Step): CancelOutcome {
  if (s.fault === 'lost-before' || s.fault === 'http500') return unknown(s.fault);
  if (w.rejectsUs) return { kind: 'misconfigured', code: '403', message: 'UNAUTHORIZED' };
  const repeat = w.applied;
  if (!w.paid) w.applied = true;
  if (s.fault !== 'none') return unknown(s.fault); // applied, then the answer was lost or unusable
  if (w.paid) return { kind: 'refused', state: 3, code: '62001', message: 'ORDER_PAID' };
  if (w.provider === 'payby')
    return repeat ? { kind: 'pending', state: 1, reason: 'ORDER_FAILURE' } : { kind: 'cancelled' };
  if (repeat && !s.repeatAnswersExisting)
    return { kind: 'refused', state: 3, code: '9999', message: 'order status not allowed' };
  w.knowsCancelId = true;
  return s.stillPending ? { kind: 'pending', state: 1, providerCancelId: 'G1' } : { kind: 'cancelled' };
}

function query(w: World, s: Step): CancelOutcome {
  if (w.provider === 'unified' && !w.knowsCancelId)
    return { kind: 'resubmit', authoritative: false, reason: 'no upstream cancelOrderId to query' };
  if (s.fault !== 'none') return unknown(s.fault);
  if (w.rejectsUs) return { kind: 'misconfigured', code: '403', message: 'UNAUTHORIZED' };
  if (w.applied)
    return s.stillPending && w.provider === 'unified' ? { kind: 'pending', state: 1 } : { kind: 'cancelled' };
  if (w.paid) return { kind: 'refused', state: 3, code: '62001', message: 'ORDER_PAID' };
  return { kind: 'resubmit', authoritative: true, reason: 'order is CREATED' };
}

function run(w: World, steps: Step[]): 'SUCCEEDED' | 'FAILED' | 'UNRESOLVED' {
  let state: DecisionState = INITIAL_DECISION_STATE;
  for (const s of steps) {
    let from: AnswerSource;
    let outcome: CancelOutcome;
    if (s.callback && w.applied && w.knowsCancelId) {
      from = 'signal';
      outcome = { kind: 'cancelled' }; // a verified gateway notification tells the truth
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
  knowsCancelId: fc.constant(false),
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
  ),
  repeatAnswersExisting: fc.boolean(),
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
      decide({ nextOp: 'submit', mayHaveLanded: true }, 'submit', {
        kind: 'misconfigured',
        code: '403',
        message: 'x',
      }).action,
    ).toBe('continue');
  });

  test('PayBy: a verified getOrder showing CREATED clears the doubt; the next refusal is final', () => {
    const after = decide({ nextOp: 'query', mayHaveLanded: true }, 'query', {
      kind: 'resubmit',
      authoritative: true,
      reason: 'CREATED',
    });
    expect(after).toMatchObject({ action: 'continue', state: { nextOp: 'submit', mayHaveLanded: false } });
    const state = (after as { state: DecisionState }).state;
    expect(
      decide(state, 'submit', { kind: 'refused', state: 3, code: '62001', message: 'ORDER_PAID' }).action,
    ).toBe('finish');
  });
});
