import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { CancelflowError } from '../common/errors';
import { registerCancellationCommands } from './cli/cancellations';
import { EXIT } from './cli/context';
import { registerFollowUpCommand } from './cli/follow-up';
import { registerListCommand } from './cli/list';
import { registerReconcileCommands } from './cli/reconcile';
import { registerSettleCommand } from './cli/settle';
import { registerWhyCommand } from './cli/why';
import { ValidationError } from './index';

/**
 * `cancelflow`: what ops do daily. Tables for people, `--json` for scripts. Exit codes: 0 ok,
 * 1 failure, 2 bad input (the message names the field or option), 3 not found, 4 conflict.
 */

const REPO_ROOT = path.resolve(__dirname, '..');

function runScript(script: string, args: string[]): never {
  const result = spawnSync(
    process.execPath,
    // tsx resolved from this checkout, not from the caller's directory.
    [
      '--import',
      pathToFileURL(require.resolve('tsx', { paths: [REPO_ROOT] })).href,
      path.join(REPO_ROOT, 'scripts', script),
      ...args,
    ],
    { stdio: 'inherit' },
  );
  process.exit(result.status ?? EXIT.failure);
}

const INPUT_CODES = ['INVALID_REQUEST', 'UNKNOWN_APP', 'UNKNOWN_ACCOUNT', 'CONFIG_INVALID'];
const CONFLICT_CODES = [
  'DELIVERING',
  'NOT_RUNNING',
  'NOT_A_PAID_ORDER',
  'HOLDING',
  'FOLLOW_UP_UNSETTLED',
  'RETIRED',
  'ALREADY_FINAL',
  'RUN_OPEN',
  'SETTLING',
  'NOT_SETTLED',
  'NOT_UNRESOLVED',
];

function exitCodeOf(err: unknown): number {
  // Commander's own refusals (unknown option or command, missing argument, bad choice) are bad input.
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.input;
  if (err instanceof ValidationError) return EXIT.input;
  if (err instanceof CancelflowError) {
    if (err.code === 'NOT_FOUND') return EXIT.notFound;
    if (CONFLICT_CODES.includes(err.code)) return EXIT.conflict;
    if (INPUT_CODES.includes(err.code)) return EXIT.input;
  }
  return EXIT.failure;
}

// Set before any command is added: subcommands inherit both.
const program = new Command('cancelflow')
  .description('Cancel payment orders as durable Temporal workflows, and operate them')
  .exitOverride()
  .showHelpAfterError()
  .addHelpText(
    'after',
    '\nExit codes: 0 ok, 1 failure (also Temporal or Postgres unreachable), 2 bad input, 3 not found, 4 conflict.',
  );

registerCancellationCommands(program);
registerFollowUpCommand(program);
registerSettleCommand(program);
registerWhyCommand(program);
registerListCommand(program);
registerReconcileCommands(program);

program
  .command('migrate')
  .description('database migrations (DATABASE_URL, or the dev stack Postgres)')
  .argument('[action]', 'latest, rollback or status', 'latest')
  .action((action: string) => runScript('migrate.ts', [action]));
program
  .command('dev')
  .description('the whole stack locally (npm run dev)')
  .action(() => runScript('dev.ts', []));
program
  .command('sandbox')
  .description('both provider sandboxes standalone (npm run sandbox)')
  .allowUnknownOption()
  .allowExcessArguments()
  .action((_o: unknown, cmd: Command) => runScript('sandbox.ts', cmd.args));

program.parseAsync().catch((err: unknown) => {
  // Commander has written its own message (and the help) already.
  if (!(err instanceof CommanderError)) process.stderr.write(`cancelflow: ${(err as Error).message}\n`);
  process.exit(exitCodeOf(err));
});
