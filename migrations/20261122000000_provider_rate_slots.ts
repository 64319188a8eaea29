import type { Knex } from 'knex';

/**
 * The shared rate limit towards each provider account: requests are granted out of short time
 * slots (`slot` = epoch ms ÷ slot length), each holding the account's rate × slot length, and
 * every worker process leases from the same rows, so the pace does not grow with the number of
 * workers. Old slots are deleted by the limiter itself.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('provider_rate_slots', (t) => {
    t.string('account_id', 40).notNullable();
    t.bigInteger('slot').notNullable();
    t.integer('used').notNullable();
    t.integer('granted').notNullable();
    t.primary(['account_id', 'slot']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('provider_rate_slots');
}
