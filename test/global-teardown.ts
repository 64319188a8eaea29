import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const stack = globalThis.__cancelflowTestStack;
  if (!stack) return;
  await stack.temporal.stop();
  await stack.postgres?.stop();
  rmSync(stack.dir, { recursive: true, force: true });
}
