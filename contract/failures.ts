/**
 * Failure types an activity throws and a workflow reads (ApplicationFailure `type`), in one place.
 */

/** A provider request that never left: its write-ahead audit row could not be written in time. */
export const NOT_SENT = 'NOT_SENT';
