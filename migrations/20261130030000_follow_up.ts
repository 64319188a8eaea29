import type { Knex } from 'knex';

/** Which follow-up a paid order's cancellation ran (revoke | refund): reconciliation checks that. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('cancellations', (t) => {
    t.string('follow_up', 16);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('cancellations', (t) => {
    t.dropColumn('follow_up');
  });
}
