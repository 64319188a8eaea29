import type { Knex } from './db';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** The 17-digit UTC timestamp of seed 000's order numbers: yyyyMMddHHmmssSSS. */
export function utcStamp(at: Date): string {
  return (
    `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1, 2)}${pad(at.getUTCDate(), 2)}` +
    `${pad(at.getUTCHours(), 2)}${pad(at.getUTCMinutes(), 2)}${pad(at.getUTCSeconds(), 2)}` +
    pad(at.getUTCMilliseconds(), 3)
  );
}

/**
 * Seed 000's cancel order id (`C` + 17-digit UTC timestamp + 4 digits), allocated by Postgres:
 * the database clock and one sequence shared by every process (migration `integrity`), so two
 * processes can never mint the same id. The cancellation's own insert calls the same function.
 */
export async function allocateCancelOrderId(db: Knex): Promise<string> {
  const { rows } = await db.raw<{ rows: Array<{ id: string }> }>('select next_cancel_order_id() as id');
  return rows[0]!.id;
}
