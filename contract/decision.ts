import type { CancelOutcome } from '../providers/types';

/**
 * What the cancellation workflow does with one classified provider answer: a pure function, so the
 * rule "no answer about money is ever wrong" can be checked over any sequence of answers
 * (test/unit/decision-property.test.ts) and not only over the sequences a test thought of.
 *
 * The memory it needs is two bits besides the next operation:
 * - `mayHaveLanded`: a cancel was sent and accepted, or we did not learn its outcome. From then on
 *   a refusal of a *repeated* cancel is not the provider's verdict on our cancel: the first one may
 *   have happened, and a gateway refuses to cancel an order that is already cancelled ("order
 *   status not allowed").
 * - `lostSubmit`: a cancel was sent whose answer we never got. Where answers are about one cancel
 *   order (Unified: a query or a notification names a gateway cancelOrderId), a refusal is about
 *   *that* cancel order, and the lost one may exist under another id we never learned: only a
 *   success decides. Where answers are about the order itself (PayBy getOrder), they decide.
 * An authoritative "not cancelled" (a verified getOrder showing CREATED) clears both.
 */

export type AnswerSource = 'submit' | 'query' | 'signal';

export interface DecisionState {
  nextOp: 'submit' | 'query';
  mayHaveLanded: boolean;
  lostSubmit: boolean;
}

/** What a provider's query answers and notifications are about. */
export type AnswerScope = 'order' | 'cancel-order';
export const ANSWER_SCOPE: Record<'payby' | 'unified', AnswerScope> = {
  payby: 'order',
  unified: 'cancel-order',
};

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

export const INITIAL_DECISION_STATE: DecisionState = {
  nextOp: 'submit',
  mayHaveLanded: false,
  lostSubmit: false,
};

export function decide(
  state: DecisionState,
  from: AnswerSource,
  outcome: CancelOutcome,
  scope: AnswerScope,
): Decision {
  const go = (
    nextOp: DecisionState['nextOp'],
    mayHaveLanded: boolean,
    note?: string,
    lostSubmit = state.lostSubmit,
  ): Decision => ({
    action: 'continue',
    state: { nextOp, mayHaveLanded, lostSubmit },
    ...(note ? { note } : {}),
  });
  switch (outcome.kind) {
    case 'cancelled':
      return { action: 'finish', outcome };
    case 'refused':
      if (from === 'submit' && state.mayHaveLanded)
        return go(
          'query',
          true,
          `repeated cancel refused (${outcome.code} ${outcome.message}) after an unknown outcome: not final`,
        );
      if (from !== 'submit' && state.lostSubmit && scope === 'cancel-order')
        return go(
          'query',
          true,
          `a cancel order refused (${outcome.code} ${outcome.message}), but an earlier cancel's answer was lost: not final`,
        );
      return { action: 'finish', outcome };
    case 'misconfigured':
      if (from === 'submit' && !state.mayHaveLanded) return { action: 'finish', outcome };
      // A refused query (or a refused repeat of a cancel that may have landed) tells us nothing.
      return go('query', state.mayHaveLanded || from === 'submit', `${outcome.code}: ${outcome.message}`);
    case 'pending':
      return {
        action: 'continue',
        state: { nextOp: 'query', mayHaveLanded: true, lostSubmit: state.lostSubmit },
        pending: outcome,
      };
    case 'resubmit':
      // Authoritative: a verified query shows the cancel did not take effect. Otherwise the
      // provider cannot be asked, and repeating the cancel is how to ask; it may have landed.
      return outcome.authoritative
        ? go('submit', false, outcome.reason, false)
        : go('submit', state.mayHaveLanded, outcome.reason);
    case 'unknown':
      if (from === 'signal') return { action: 'continue', state };
      // The cancel never left (its audit row could not be written first): nothing changed. Known
      // from the activity's failure only: a provider's answer with the code NOT_SENT is an answer.
      if (from === 'submit' && outcome.notSent === true)
        return go('submit', state.mayHaveLanded, outcome.reason);
      if (from === 'submit') return go('query', true, outcome.reason, true);
      return go('query', state.mayHaveLanded, outcome.reason);
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
