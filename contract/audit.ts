/**
 * `provider_calls.outcome` of a row written ahead of its request (activities/adapters.ts
 * `writeAhead`) whose answer was never recorded: the request was sent (or was about to be), and
 * then the worker died or its time ran out before the answer's columns were written.
 */
export const SENT_NOT_ANSWERED = 'sent';
