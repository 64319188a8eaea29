import type { Knex } from 'knex';

/**
 * The whole schema of ARCHITECTURE.md. Amounts are BIGINT minor units. Every table an activity
 * writes has a natural unique key, so a retried activity adds no duplicate row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('cancellations', (t) => {
    t.string('cancel_order_id', 30).primary();
    t.string('workflow_id', 200).notNullable().unique();
    t.string('mch_no', 30).notNullable();
    t.string('app_id', 24).notNullable();
    t.string('account_id', 40).notNullable();
    t.string('provider', 16).notNullable();
    // `pay:<payOrderId>` or `mch:<mchOrderNo>`: the order this cancellation is about.
    t.string('order_ref', 40).notNullable();
    t.string('pay_order_id', 30);
    t.string('mch_order_no', 30);
    t.string('notify_url', 128);
    t.string('ext_param', 512);
    t.string('client_ip', 32);
    t.string('channel_extra', 256);
    t.bigInteger('amount_minor');
    t.string('currency', 3);
    // Seed 000 cancel state: 0 generated, 1 in progress, 2 success, 3 failure, 4 closed.
    t.smallint('state').notNullable().defaultTo(0);
    t.string('status', 16).notNullable().defaultTo('RECEIVED');
    t.string('provider_cancel_id', 64);
    t.string('provider_order_no', 64);
    t.string('channel_order_no', 64);
    t.string('err_code', 64);
    t.string('err_msg', 256);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('success_time', { useTz: true });
    t.timestamp('deadline_at', { useTz: true });
    t.unique(['app_id', 'order_ref'], { indexName: 'cancellations_app_order_ref_unique' });
    t.index(['account_id', 'status'], 'cancellations_account_status_idx');
    t.index(['status', 'updated_at'], 'cancellations_status_updated_idx');
    t.index(['created_at'], 'cancellations_created_idx');
    t.index(['updated_at'], 'cancellations_updated_idx');
    t.index(['account_id', 'provider_cancel_id'], 'cancellations_provider_cancel_idx');
  });
  await knex.raw(
    'ALTER TABLE cancellations ADD CONSTRAINT cancellations_state_check CHECK (state BETWEEN 0 AND 4)',
  );
  await knex.raw(
    `ALTER TABLE cancellations ADD CONSTRAINT cancellations_status_check CHECK (status IN
      ('RECEIVED','SUBMITTED','PENDING','SUCCEEDED','FAILED','CLOSED','UNRESOLVED'))`,
  );
  await knex.raw(
    `ALTER TABLE cancellations ADD CONSTRAINT cancellations_order_check CHECK
      (pay_order_id IS NOT NULL OR mch_order_no IS NOT NULL)`,
  );

  // Every status change, in order. `seq` comes from the workflow, so a replayed write is a no-op.
  await knex.schema.createTable('cancellation_transitions', (t) => {
    t.bigIncrements('id');
    t.string('cancel_order_id', 30)
      .notNullable()
      .references('cancellations.cancel_order_id')
      .onDelete('CASCADE');
    t.integer('seq').notNullable();
    t.string('status', 16).notNullable();
    t.smallint('state').notNullable();
    t.string('reason', 256);
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['cancel_order_id', 'seq']);
  });

  await knex.schema.createTable('provider_calls', (t) => {
    t.bigIncrements('id');
    // `<workflowId>/<activityId>/<attempt>`: one row per real exchange, never two.
    t.string('exchange_key', 300).notNullable().unique();
    t.string('cancel_order_id', 30).references('cancellations.cancel_order_id').onDelete('CASCADE');
    t.string('account_id', 40).notNullable();
    t.string('provider', 16).notNullable();
    t.string('operation', 16).notNullable();
    t.string('url', 512).notNullable();
    t.jsonb('request').notNullable();
    t.integer('http_status');
    t.text('response_body');
    t.string('signature', 16).notNullable();
    t.string('outcome', 16).notNullable();
    t.jsonb('outcome_detail');
    t.string('error', 512);
    t.integer('latency_ms').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['cancel_order_id', 'created_at']);
    t.index(['account_id', 'created_at']);
  });

  await knex.schema.createTable('notifications', (t) => {
    t.string('notification_id', 64).primary();
    t.string('cancel_order_id', 30)
      .notNullable()
      .unique()
      .references('cancellations.cancel_order_id')
      .onDelete('CASCADE');
    t.string('app_id', 24).notNullable();
    t.string('url', 128).notNullable();
    // The signed form fields exactly as sent; a signature is no secret, the key never is stored.
    t.jsonb('payload').notNullable();
    t.string('status', 16).notNullable().defaultTo('pending');
    t.integer('rounds').notNullable().defaultTo(1);
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('last_attempt_at', { useTz: true });
    t.timestamp('delivered_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['status', 'updated_at']);
  });
  await knex.raw(
    `ALTER TABLE notifications ADD CONSTRAINT notifications_status_check CHECK (status IN
      ('pending','delivering','delivered','failed'))`,
  );

  await knex.schema.createTable('notification_attempts', (t) => {
    t.bigIncrements('id');
    t.string('notification_id', 64)
      .notNullable()
      .references('notifications.notification_id')
      .onDelete('CASCADE');
    t.integer('round').notNullable();
    t.integer('attempt_no').notNullable();
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.boolean('success').notNullable();
    t.integer('http_status');
    t.string('body_excerpt', 256);
    t.string('error', 512);
    t.integer('duration_ms').notNullable();
    t.unique(['notification_id', 'round', 'attempt_no']);
  });

  await knex.schema.createTable('provider_callbacks', (t) => {
    t.bigIncrements('id');
    t.string('account_id', 40).notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.string('content_type', 128);
    t.text('raw_body').notNullable();
    t.string('verdict', 24).notNullable();
    t.string('reason', 256);
    t.string('cancel_order_id', 30);
    t.string('provider_cancel_id', 64);
    t.smallint('state');
    t.boolean('signalled').notNullable().defaultTo(false);
    t.index(['account_id', 'received_at']);
    t.index(['cancel_order_id']);
  });

  await knex.schema.createTable('reconciliation_runs', (t) => {
    t.string('run_id', 100).primary();
    t.timestamp('window_from', { useTz: true }).notNullable();
    t.timestamp('window_to', { useTz: true }).notNullable();
    t.string('account_id', 40);
    t.boolean('dry_run').notNullable().defaultTo(false);
    t.string('status', 16).notNullable().defaultTo('running');
    t.jsonb('counts').notNullable().defaultTo('{}');
    t.timestamp('started_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
  });

  await knex.schema.createTable('reconciliation_items', (t) => {
    t.bigIncrements('id');
    t.string('run_id', 100).notNullable().references('reconciliation_runs.run_id').onDelete('CASCADE');
    t.string('cancel_order_id', 30).notNullable();
    t.string('class', 24).notNullable();
    t.smallint('our_state');
    t.smallint('provider_state');
    t.jsonb('detail');
    t.boolean('repaired').notNullable().defaultTo(false);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['run_id', 'cancel_order_id']);
    t.index(['run_id', 'class']);
  });

  // Written by the self-check workflow (`cancelflow doctor`): proof that a worker, Temporal and
  // Postgres work together end to end.
  await knex.schema.createTable('self_checks', (t) => {
    t.string('token', 64).primary();
    t.string('worker_identity', 200).notNullable();
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'self_checks',
    'reconciliation_items',
    'reconciliation_runs',
    'provider_callbacks',
    'notification_attempts',
    'notifications',
    'provider_calls',
    'cancellation_transitions',
    'cancellations',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
