import type { Knex } from 'knex';

/**
 * Outcome integrity:
 * - cancel order ids come from one Postgres sequence and the database clock
 *   (`next_cancel_order_id()`), so no two processes can mint the same one;
 * - `cancellation_refs` names each active cancellation by every number of its order
 *   (`pay:<payOrderId>`, `mch:<mchOrderNo>`), per app: one order, one cancellation, whichever number
 *   names it, and never another app's;
 * - a cancellation that failed for our own reasons (`retryable`) can be started again: the old row
 *   is retired (kept, with its answers) and a new cancellation takes the order's numbers.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE SEQUENCE cancel_order_id_seq');
  // Seed 000's shape: `C` + 17-digit UTC timestamp (database clock) + 4 digits of the sequence.
  // Two ids are equal only if 10,000 ids were allocated between them within one millisecond;
  // the primary key refuses even that, and the allocating insert is retried.
  await knex.raw(`
    CREATE FUNCTION next_cancel_order_id() RETURNS varchar(30) LANGUAGE sql VOLATILE AS $$
      SELECT 'C' || to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSMS')
        || lpad((nextval('cancel_order_id_seq') % 10000)::text, 4, '0')
    $$`);

  await knex.schema.alterTable('cancellations', (t) => {
    t.dropUnique(['app_id', 'order_ref'], 'cancellations_app_order_ref_unique');
    t.dropUnique(['workflow_id']);
    t.string('workflow_run_id', 64);
    t.boolean('retryable').notNullable().defaultTo(false);
    t.timestamp('retired_at', { useTz: true });
    t.string('retry_of', 30);
    t.index(['workflow_id'], 'cancellations_workflow_idx');
    t.index(['account_id', 'pay_order_id'], 'cancellations_account_pay_order_idx');
  });

  await knex.schema.createTable('cancellation_refs', (t) => {
    t.string('mch_no', 30).notNullable();
    t.string('app_id', 24).notNullable();
    t.string('order_ref', 40).notNullable();
    t.string('cancel_order_id', 30)
      .notNullable()
      .references('cancellations.cancel_order_id')
      .onDelete('CASCADE');
    t.primary(['mch_no', 'app_id', 'order_ref']);
    t.index(['cancel_order_id']);
  });
  await knex.raw(`
    INSERT INTO cancellation_refs (mch_no, app_id, order_ref, cancel_order_id)
    SELECT mch_no, app_id, order_ref, cancel_order_id FROM cancellations
    ON CONFLICT DO NOTHING`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('cancellation_refs');
  await knex.schema.alterTable('cancellations', (t) => {
    t.dropIndex(['account_id', 'pay_order_id'], 'cancellations_account_pay_order_idx');
    t.dropIndex(['workflow_id'], 'cancellations_workflow_idx');
    t.dropColumns('workflow_run_id', 'retryable', 'retired_at', 'retry_of');
  });
  await knex.raw('DROP FUNCTION next_cancel_order_id()');
  await knex.raw('DROP SEQUENCE cancel_order_id_seq');
}
