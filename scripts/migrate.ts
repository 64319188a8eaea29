import { createDb, describeDatabaseUrl } from '../common/db';
import { openDatabaseForCommand } from './stack';

/**
 * `npm run migrate [-- latest|rollback|status]` against DATABASE_URL, or against the dev stack's
 * embedded Postgres when DATABASE_URL is unset.
 */
async function main(): Promise<void> {
  const command = process.argv[2] ?? 'latest';
  if (!['latest', 'rollback', 'status'].includes(command)) {
    throw new Error(`unknown migrate command "${command}" (latest, rollback, status)`);
  }
  const database = await openDatabaseForCommand(process.env, (l) => console.error(l));
  const db = createDb(database.url, { max: 2 });
  try {
    console.log(`database: ${describeDatabaseUrl(database.url)}`);
    if (command === 'latest') {
      const [, applied] = (await db.migrate.latest()) as [number, string[]];
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
    } else if (command === 'rollback') {
      const [, reverted] = (await db.migrate.rollback(undefined, true)) as [number, string[]];
      console.log(reverted.length ? `rolled back: ${reverted.join(', ')}` : 'nothing to roll back');
    } else {
      const [done, pending] = (await db.migrate.list()) as [Array<{ name: string }>, Array<{ file: string }>];
      console.log(`applied: ${done.map((m) => m.name).join(', ') || '(none)'}`);
      console.log(`pending: ${pending.map((m) => m.file).join(', ') || '(none)'}`);
    }
  } finally {
    await db.destroy();
    await database.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
