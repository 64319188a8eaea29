export { selfCheckWorkflow } from './self-check';
export { cancellationWorkflow } from './cancellation';
export { acceptUpdate, progressQuery, providerOutcomeSignal, statusQuery, statusUpdate } from './definitions';
export { notificationWorkflow } from './notification';
export { repairWorkflow } from './repair';
export { settleWorkflow } from './settle';
export { reconciliationWorkflow } from './reconciliation';
