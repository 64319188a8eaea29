export { selfCheckWorkflow } from './self-check';
export { cancellationWorkflow, providerOutcomeSignal, statusQuery } from './cancellation';
export { notificationWorkflow } from './notification';
export { reconciliationWorkflow, progressQuery } from './reconciliation';
export { ceilingWorkflow, ceilingChildWorkflow } from './bench';
