/**
 * Failure types an activity throws and a workflow reads (ApplicationFailure `type`), in one place.
 */

/** A provider request that never left: its write-ahead audit row could not be written in time. */
export const NOT_SENT = 'NOT_SENT';

/**
 * A provider request not sent because its claimed `provider_calls` row was already written: an
 * earlier try of the same workflow step may have sent it (activities/adapters.ts writeAhead).
 */
export const MAY_HAVE_SENT = 'MAY_HAVE_SENT';
