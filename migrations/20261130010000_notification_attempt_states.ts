import type { Knex } from 'knex';

/**
 * A notification attempt is written ahead of its HTTP exchange, so a retried attempt activity
 * knows whether it may send:
 * - `sending`: the row is written, the exchange may or may not have happened; no result yet;
 * - `done`: the exchange (or the address policy's refusal) happened and its result is recorded;
 * - `unknown`: a retry found `sending` with no result to recover: the attempt is used up (it may
 *   have been sent) and counts as not delivered.
 * Rows written before this migration are finished attempts (`done`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('notification_attempts', (t) => {
    t.string('state', 16).notNullable().defaultTo('done');
    t.setNullable('success');
    t.setNullable('duration_ms');
  });
  await knex.raw(
    `ALTER TABLE notification_attempts ADD CONSTRAINT notification_attempts_state_check CHECK
      (state IN ('sending','done','unknown') AND (state = 'sending' OR success IS NOT NULL))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE notification_attempts DROP CONSTRAINT notification_attempts_state_check');
  await knex('notification_attempts').whereNull('success').update({ success: false });
  await knex('notification_attempts').whereNull('duration_ms').update({ duration_ms: 0 });
  await knex.schema.alterTable('notification_attempts', (t) => {
    t.dropColumn('state');
    t.dropNullable('success');
    t.dropNullable('duration_ms');
  });
}
