/**
 * Seed 000's field rules, in one place: the tables of the messages we receive and send, reading a
 * received body into the flat parameters its signature covers, and the business rules of a cancel
 * request (used by the API and by the TypeScript client alike). Pure: no I/O, no config loading.
 * The rules live in the modules below; this path re-exports them.
 */

export {
  CANCEL_NOTIFICATION_FIELDS,
  CANCEL_QUERY_FIELDS,
  CANCEL_REQUEST_FIELDS,
  ProtocolError,
  reqTimeMs,
  type FieldRule,
  type FieldRules,
  type ProtocolErrorCode,
} from './message-fields';
export { parseParams, readParams } from './read-params';
export {
  cancelRequestSchema,
  checkCancelRequest,
  firstIssue,
  type CancelRequest,
  type CancelRequestInput,
  type CancelRequestSchema,
} from './cancel-request';
export {
  cancelOrderFields,
  notificationFields,
  type CancelOrderFields,
  type CancelOrderRow,
} from './cancel-order-fields';
