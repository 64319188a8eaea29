import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * `npm run bundle [file]`: bundles the production workflows once (default `dist/workflow-bundle.js`)
 * so that workers started with CANCELFLOW_WORKFLOW_BUNDLE=<file> skip webpack at start. Rebuild it
 * with every deploy of the code: a worker runs the workflows in the bundle, not those in the tree.
 */
async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows') });
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, code);
  process.stdout.write(`${out} (${code.length} bytes)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
