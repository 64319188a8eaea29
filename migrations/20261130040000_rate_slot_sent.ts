import type { Knex } from 'knex';

/**
 * A slot's `used` counts positions taken, including positions skipped because they were already
 * past when a process leased (releasing them would burst); `sent` counts the requests released.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('provider_rate_slots', (t) => {
    t.integer('sent').notNullable().defaultTo(0);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('provider_rate_slots', (t) => {
    t.dropColumn('sent');
  });
}
