import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes (all Keyword) that ops filter on in the Temporal Web UI, e.g.
 * `CancelAccount = "payby-ae" AND CancelState = "UNRESOLVED"`. `CancelState` holds our internal
 * status (PENDING, SUCCEEDED, UNRESOLVED, ...), which is finer than seed 000's state number.
 */
export const CancelAccount = defineSearchAttributeKey('CancelAccount', SearchAttributeType.KEYWORD);
export const CancelProvider = defineSearchAttributeKey('CancelProvider', SearchAttributeType.KEYWORD);
export const CancelState = defineSearchAttributeKey('CancelState', SearchAttributeType.KEYWORD);
export const CancelOrderRef = defineSearchAttributeKey('CancelOrderRef', SearchAttributeType.KEYWORD);
export const CancelMchNo = defineSearchAttributeKey('CancelMchNo', SearchAttributeType.KEYWORD);
/** Our cancel order id (`C…`), so a cancellation can be found from it. */
export const CancelOrderId = defineSearchAttributeKey('CancelOrderId', SearchAttributeType.KEYWORD);
/** A paid order's follow-up: revoke or refund. */
export const CancelFollowUp = defineSearchAttributeKey('CancelFollowUp', SearchAttributeType.KEYWORD);
/** On notification workflows: pending, delivered or failed. */
export const CancelNotification = defineSearchAttributeKey('CancelNotification', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [
  CancelAccount,
  CancelProvider,
  CancelState,
  CancelOrderRef,
  CancelMchNo,
  CancelOrderId,
  CancelNotification,
  CancelFollowUp,
] as const;

export const SEARCH_ATTRIBUTE_NAMES = SEARCH_ATTRIBUTE_KEYS.map((k) => k.name);
