import type { Knex } from 'knex';

/** A paid order's refund (issue "paid orders"): our id, PayBy's, the amount in minor units, its status. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('refunds', (t) => {
    // Ours, created once per cancellation (`R` + the cancelOrderId's digits) and reused on every resend.
    t.string('refund_id', 64).primary();
    t.string('cancel_order_id', 30)
      .notNullable()
      .references('cancellations.cancel_order_id')
      .onDelete('CASCADE');
    t.string('provider_refund_no', 64);
    t.bigInteger('amount_minor').notNullable();
    t.string('currency', 3).notNullable();
    t.string('status', 24).notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['cancel_order_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('refunds');
}
