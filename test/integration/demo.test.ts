import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/ports';

/** The README's main command, end to end: `npm run demo -- --exit` on free ports in a scratch data dir. */
test('npm run demo brings the stack up, runs every scenario through the API and prints the final table', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cancelflow-demo-'));
  const [api, temporal, ui, pg, metrics, sdk] = await Promise.all(
    Array.from({ length: 6 }, () => freePort()),
  );
  try {
    const { code, out } = await new Promise<{ code: number; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.resolve(__dirname, '../../scripts/demo.ts'), '--exit'],
        {
          env: {
            ...process.env,
            NODE_OPTIONS: '',
            FORCE_COLOR: '0',
            CANCELFLOW_DATA_DIR: dir,
            PORT: String(api),
            CANCELFLOW_TEMPORAL_PORT: String(temporal),
            CANCELFLOW_TEMPORAL_UI_PORT: String(ui),
            CANCELFLOW_PG_PORT: String(pg),
            CANCELFLOW_METRICS_PORT: String(metrics),
            CANCELFLOW_SDK_METRICS_PORT: String(sdk),
            DATABASE_URL: '',
            TEMPORAL_ADDRESS: '',
          },
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('exit', (c) => resolve({ code: c ?? -1, out }));
    });
    expect(code).toBe(0);
    const row = (scenario: string) =>
      out.split('\n').find((l) => l.includes(`-${scenario} `) && l.includes('│')) ?? '';
    expect(row('ok')).toMatch(/SUCCEEDED \(state 2\).*delivered \(attempt 1\)/);
    // The channel's own code and description: PayBy `62001 ORDER_PAID`, the Unified gateway's `ORDER_PAID …`.
    expect(row('paid')).toMatch(/FAILED \(state 3\)\s+│ (62001 )?ORDER_PAID/);
    expect(row('lost')).toMatch(/SUCCEEDED/);
    // The table says why a state is what it is.
    expect(row('failed')).toMatch(/getOrder confirmed it|state 4 \(closed/);
    expect(row('pending3')).toMatch(/SUCCEEDED/);
    expect(row('badsig')).toMatch(/UNRESOLVED/);
    expect(row('garbage')).toMatch(/UNRESOLVED/);
    expect(row('ok-nack')).toMatch(/SUCCEEDED.*failed after 6 attempts/);
    expect(out).toMatch(
      new RegExp(`Temporal UI: http://127.0.0.1:${ui}/namespaces/default/workflows\\?query=`),
    );
    const series = /worker \/metrics: (\d+) cancelflow series, (\d+) Temporal SDK series/.exec(out);
    expect(Number(series?.[1])).toBeGreaterThan(10);
    expect(Number(series?.[2])).toBeGreaterThan(0);
    expect(out).toContain('[dev] stopped');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);
