import { createDb } from '../../common/db';
import { allocateCancelOrderId } from '../../common/ids';

/** `node --import tsx test/helpers/mint-ids.ts <databaseUrl> <count>`: prints that many new ids. */
async function main(): Promise<void> {
  const [url, count] = process.argv.slice(2);
  const db = createDb(url!, { max: 8 });
  const ids = await Promise.all(Array.from({ length: Number(count) }, () => allocateCancelOrderId(db)));
  process.stdout.write(ids.join('\n'));
  await db.destroy();
}

void main();
