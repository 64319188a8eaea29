import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../common/config';
import { createAdapter } from '../../providers';
import { scenarioOf } from '../../sandbox/scenarios';
import { startStandaloneSandboxes, type Standalone } from '../../sandbox/standalone';

let dir: string;
let sandboxes: Standalone;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-sandbox-'));
  sandboxes = await startStandaloneSandboxes({ dir, notifyScale: 0.001 });
});
afterAll(async () => {
  await sandboxes.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('npm run sandbox: both servers standalone, with generated keys and a config that works', () => {
  test('keys are generated once, private ones readable only by the owner', async () => {
    const mode = statSync(path.join(dir, 'keys', 'merchant-private.pem')).mode & 0o777;
    expect(mode).toBe(0o600);
    const other = path.join(dir, 'restart');
    const first = await startStandaloneSandboxes({ dir: other });
    await first.close();
    const before = statSync(path.join(other, 'keys', 'unified-gateway.key')).mtimeMs;
    const again = await startStandaloneSandboxes({ dir: other });
    await again.close();
    expect(statSync(path.join(other, 'keys', 'unified-gateway.key')).mtimeMs).toBe(before);
  });

  test('the printed config loads, and its accounts reach both sandboxes with valid signatures', async () => {
    const config = loadConfig({ env: { CANCELFLOW_CONFIG: sandboxes.configPath } });
    expect(config.accounts.map((a) => a.provider).sort()).toEqual(['payby', 'unified']);
    for (const account of config.accounts) {
      const adapter = createAdapter(account);
      const ok = await adapter.submitCancel({ order: { mchOrderNo: `${account.id}-A1` } });
      expect(ok.outcome).toMatchObject({ kind: 'cancelled' });
      expect(ok.exchange?.signature).toBe('valid');
      const paid = await adapter.submitCancel({ order: { mchOrderNo: `${account.id}-A2-paid` } });
      expect(paid.outcome).toMatchObject({ kind: 'refused', state: 3 });
      const gone = await adapter.submitCancel({ order: { mchOrderNo: `${account.id}-A3-notfound` } });
      expect(gone.outcome.kind).toBe('refused');
      const flaky = await adapter.submitCancel({ order: { mchOrderNo: `${account.id}-A4-e500x1` } });
      expect(flaky.outcome).toMatchObject({ kind: 'unknown', code: 'HTTP_500' });
    }
  });

  test('order references choose the behaviour', () => {
    expect(scenarioOf('X-pending3')).toMatchObject({ pendingQueries: 3, result: 'cancelled' });
    expect(scenarioOf('X-e504x2-timeoutx1').faults).toEqual(['http504', 'http504', 'timeout']);
    expect(scenarioOf('X-SETTLED-lost')).toMatchObject({ result: 'settled', lost: true });
    expect(scenarioOf('plain')).toMatchObject({ result: 'cancelled', faults: [], notFound: false });
  });
});
