import path from 'node:path';
import { Command } from 'commander';
import { startStandaloneSandboxes } from '../sandbox/standalone';
import { REPO_ROOT } from './stack';

/** `npm run sandbox`: both provider sandboxes as standalone servers, until Ctrl-C. */
async function main(): Promise<void> {
  const program = new Command('sandbox')
    .description('Run the PayBy (seed 002) and Unified Cancel (seed 000) sandboxes standalone')
    .option(
      '--dir <dir>',
      'where keys and the generated config live',
      path.join(REPO_ROOT, '.data', 'sandbox'),
    )
    .option('--payby-port <port>', 'PayBy sandbox port', '18801')
    .option('--unified-port <port>', 'Unified sandbox port', '18802')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--notify-scale <factor>', 'multiplier of the 0/30/60/90/120/150 s notification schedule', '1')
    .parse();
  const opts = program.opts<{
    dir: string;
    paybyPort: string;
    unifiedPort: string;
    host: string;
    notifyScale: string;
  }>();
  const sandboxes = await startStandaloneSandboxes({
    dir: path.resolve(opts.dir),
    paybyPort: Number(opts.paybyPort),
    unifiedPort: Number(opts.unifiedPort),
    host: opts.host,
    notifyScale: Number(opts.notifyScale),
  });
  const out = process.stdout;
  out.write(
    `PayBy sandbox (seed 002):          ${sandboxes.payby.url}  POST /acquire2/cancelOrder, /acquire2/getOrder\n`,
  );
  out.write(
    `Unified Cancel sandbox (seed 000): ${sandboxes.unified.url}  POST /api/pay/cancel, /api/cancel/query\n`,
  );
  out.write(`Keys (generated on first run):     ${path.join(path.resolve(opts.dir), 'keys')}\n`);
  out.write(`\nA cancelflow config pointing at them, written to ${sandboxes.configPath}:\n\n`);
  out.write(`${JSON.stringify(sandboxes.config, null, 2)}\n\n`);
  out.write(`Use it:  CANCELFLOW_CONFIG=${sandboxes.configPath} npm run dev\n`);
  out.write(
    `Order behaviour comes from the order reference, e.g. mchOrderNo "A1-paid", "A2-e500x2", "A3-pending3" (see sandbox/scenarios.ts).\n`,
  );
  out.write('Ctrl-C stops.\n');
  const stop = () => void sandboxes.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
