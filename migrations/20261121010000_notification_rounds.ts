import type { Knex } from 'knex';

/**
 * A notification round belongs to one run of the delivery workflow: `round_run_id` lets a retried
 * `beginNotificationRound` activity recognise its own round instead of starting another.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notifications', (t) => {
    t.string('round_run_id', 64);
    t.string('account_id', 40);
  });
  await knex.schema.alterTable('provider_callbacks', (t) => {
    t.string('workflow_id', 200);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('provider_callbacks', (t) => t.dropColumn('workflow_id'));
  await knex.schema.alterTable('notifications', (t) => {
    t.dropColumn('round_run_id');
    t.dropColumn('account_id');
  });
}
