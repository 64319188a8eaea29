import { spawn } from 'node:child_process';
import path from 'node:path';
import { CANCEL_ORDER_ID } from '../../contract/ids';
import { createTestDatabase, type TestDatabase } from '../helpers/stack';

/**
 * Cancel order ids are allocated by Postgres (`next_cancel_order_id()`): several processes minting
 * at once, each as fast as it can, never get the same id. (The per-process counter this replaced
 * collided across processes within one millisecond.)
 */
const ROOT = path.resolve(__dirname, '..', '..');
const PROCESSES = 4;
const PER_PROCESS = 2_500;

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

function mint(url: string, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'test', 'helpers', 'mint-ids.ts'), url, String(count)],
      { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out.split('\n').filter(Boolean))
        : reject(new Error(`minting process exited ${code}`)),
    );
  });
}

test(`${PROCESSES} processes minting ${PER_PROCESS} ids each at once: every id unique, seed shape`, async () => {
  const batches = await Promise.all(Array.from({ length: PROCESSES }, () => mint(database.url, PER_PROCESS)));
  const ids = batches.flat();
  expect(ids).toHaveLength(PROCESSES * PER_PROCESS);
  expect(new Set(ids).size).toBe(ids.length);
  for (const id of ids) expect(id).toMatch(CANCEL_ORDER_ID);
  // The processes really overlapped: some millisecond saw ids from more than one of them.
  const byMs = new Map<string, Set<number>>();
  batches.forEach((batch, p) =>
    batch.forEach((id) => byMs.set(id.slice(0, 18), (byMs.get(id.slice(0, 18)) ?? new Set()).add(p))),
  );
  expect([...byMs.values()].some((procs) => procs.size > 1)).toBe(true);
});
