export { selfCheckWorkflow } from './self-check';
