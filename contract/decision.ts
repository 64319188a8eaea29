import type { CancelOutcome } from '../providers/types';

/**
 * What the cancellation workflow does with one classified provider answer: a pure function, so the
 * rule "no answer about money is ever wrong" can be checked over any sequence of answers
 * (test/unit/decision-property.test.ts) and not only over the sequences a test thought of.
 *
 * The memory it needs is one bit besides the next operation: `mayHaveLanded`, true once a cancel
 * was sent and we did not learn its outcome (or learnt it was accepted). From then on a refusal of
 * a *repeated* cancel is not the provider's verdict on our cancel: the first one may have
 * happened, and a gateway refuses to cancel an order that is already cancelled ("order status not
 * allowed"). Only a query, a verified callback, or an authoritative "not cancelled" decides.
 */

export type AnswerSource = 'submit' | 'query' | 'signal';

export interface DecisionState {
  nextOp: 'submit' | 'query';
  mayHaveLanded: boolean;
}

export type FinalOutcome = Extract<CancelOutcome, { kind: 'cancelled' | 'refused' | 'misconfigured' }>;

export type Decision =
  | { action: 'finish'; outcome: FinalOutcome }
  | {
      action: 'continue';
      state: DecisionState;
      /** The provider accepted the cancel and is working on it (seed state 1). */
      pending?: Extract<CancelOutcome, { kind: 'pending' }>;
      /** Why this answer did not decide, for the log and the row. */
      note?: string;
    };

export const INITIAL_DECISION_STATE: DecisionState = { nextOp: 'submit', mayHaveLanded: false };

export function decide(state: DecisionState, from: AnswerSource, outcome: CancelOutcome): Decision {
  const go = (nextOp: DecisionState['nextOp'], mayHaveLanded: boolean, note?: string): Decision => ({
    action: 'continue',
    state: { nextOp, mayHaveLanded },
    ...(note ? { note } : {}),
  });
  switch (outcome.kind) {
    case 'cancelled':
      return { action: 'finish', outcome };
    case 'refused':
      if (from !== 'submit' || !state.mayHaveLanded) return { action: 'finish', outcome };
      return go(
        'query',
        true,
        `repeated cancel refused (${outcome.code} ${outcome.message}) after an unknown outcome: not final`,
      );
    case 'misconfigured':
      if (from === 'submit' && !state.mayHaveLanded) return { action: 'finish', outcome };
      // A refused query (or a refused repeat of a cancel that may have landed) tells us nothing.
      return go('query', state.mayHaveLanded || from === 'submit', `${outcome.code}: ${outcome.message}`);
    case 'pending':
      return { action: 'continue', state: { nextOp: 'query', mayHaveLanded: true }, pending: outcome };
    case 'resubmit':
      // Authoritative: a verified query shows the cancel did not take effect. Otherwise the
      // provider cannot be asked, and repeating the cancel is how to ask; it may have landed.
      return go('submit', outcome.authoritative ? false : state.mayHaveLanded, outcome.reason);
    case 'unknown':
      if (from === 'signal') return { action: 'continue', state };
      return go('query', state.mayHaveLanded || from === 'submit', outcome.reason);
  }
}

/** Our internal status and seed 000's state for a final outcome (the workflow and repairs share it). */
export function finalStatusOf(outcome: FinalOutcome): {
  status: 'SUCCEEDED' | 'FAILED' | 'CLOSED';
  state: 2 | 3 | 4;
  retryable: boolean;
} {
  switch (outcome.kind) {
    case 'cancelled':
      return { status: 'SUCCEEDED', state: 2, retryable: false };
    case 'refused':
      return { status: outcome.state === 4 ? 'CLOSED' : 'FAILED', state: outcome.state, retryable: false };
    case 'misconfigured':
      // Failed for our own reasons (credentials, authorisation, parameters): may be started again.
      return { status: 'FAILED', state: 3, retryable: true };
  }
}
