import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { createDb, type Knex } from '../../common/db';
import { withDatabase } from '../postgres';

/**
 * The secrets scan: every configured secret (app keys, the gateway key, the webhook secret, and the
 * PayBy private key's PEM body, line by line and whole) looked for in the Temporal database file
 * (and its WAL), every text of every Postgres table, and every log file. The histories are scanned
 * as they are read (collect.ts). Found anywhere = failure.
 */

export function secretNeedles(o: {
  appKeys: Array<{ name: string; key: string }>;
  gatewayKey: string;
  webhookSecret: string;
  privatePem: string;
}): Map<string, string> {
  const needles = new Map<string, string>();
  for (const a of o.appKeys) needles.set(`app key ${a.name}`, a.key);
  needles.set('gateway key', o.gatewayKey);
  needles.set('webhook secret', o.webhookSecret.replace(/^whsec_/, ''));
  const body = o.privatePem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .map((l) => l.trim());
  body.forEach((line, i) => {
    if (line.length >= 40) needles.set(`PayBy private key line ${i + 1}`, line);
  });
  needles.set('PayBy private key body', body.join(''));
  return needles;
}

/** Streams `file`, looking for every needle (chunks overlap by the longest needle). */
export async function scanFile(file: string, needles: Map<string, string>): Promise<string[]> {
  const list = [...needles].map(([label, v]) => ({ label, bytes: Buffer.from(v, 'utf8') }));
  const overlap = Math.max(...list.map((n) => n.bytes.length));
  const found = new Set<string>();
  let tail = Buffer.alloc(0);
  for await (const chunk of createReadStream(file, { highWaterMark: 8 * 1024 * 1024 })) {
    const buf = Buffer.concat([tail, chunk as Buffer]);
    for (const n of list) if (!found.has(n.label) && buf.includes(n.bytes)) found.add(n.label);
    tail = buf.subarray(Math.max(0, buf.length - overlap));
  }
  return [...found];
}

export interface SecretFinding {
  source: string;
  secrets: string[];
}

export async function scanFiles(
  files: string[],
  needles: Map<string, string>,
): Promise<{ findings: SecretFinding[]; bytes: number }> {
  const findings: SecretFinding[] = [];
  let bytes = 0;
  for (const file of files) {
    if (!existsSync(file)) continue;
    bytes += statSync(file).size;
    const secrets = await scanFile(file, needles);
    if (secrets.length > 0) findings.push({ source: file, secrets });
  }
  return { findings, bytes };
}

export function filesUnder(dir: string, match: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(full, match) : match(e.name) ? [full] : [];
  });
}

/** Every row of every table in the public schema, as text, searched in Postgres itself. */
export async function scanPostgres(
  db: Knex,
  needles: Map<string, string>,
): Promise<{ findings: SecretFinding[]; tables: number; rows: number }> {
  const tables = (
    await db('pg_tables').where({ schemaname: 'public' }).select<Array<{ tablename: string }>>('tablename')
  ).map((t) => t.tablename);
  const findings: SecretFinding[] = [];
  let rows = 0;
  for (const table of tables) {
    if (!/^[a-z_][a-z0-9_]*$/.test(table)) continue;
    const counted = await db.raw<{ rows: Array<{ n: number }> }>(`select count(*)::int as n from "${table}"`);
    const count = counted.rows[0];
    rows += count?.n ?? 0;
    const hits: string[] = [];
    for (const [label, value] of needles) {
      const res = (
        await db.raw<{ rows: Array<{ n: number }> }>(
          `select count(*)::int as n from "${table}" t where strpos(t::text, ?) > 0`,
          [value],
        )
      ).rows;
      if ((res[0]?.n ?? 0) > 0) hits.push(`${label} (${res[0]!.n} rows)`);
    }
    if (hits.length > 0) findings.push({ source: `postgres table ${table}`, secrets: hits });
  }
  return { findings, tables: tables.length, rows };
}

/**
 * The production engine's databases (CHAOS_TEMPORAL=server): every row as text, and every `bytea`
 * column (history blobs, mutable state: protobuf with raw JSON payloads) searched for the bytes.
 */
export async function scanTemporalDatabases(
  adminUrl: string,
  databases: string[],
  needles: Map<string, string>,
): Promise<{ findings: SecretFinding[]; tables: number; rows: number }> {
  const findings: SecretFinding[] = [];
  let tables = 0;
  let rows = 0;
  for (const database of databases) {
    const db = createDb(withDatabase(adminUrl, database), { max: 1 });
    try {
      const text = await scanPostgres(db, needles);
      tables += text.tables;
      rows += text.rows;
      findings.push(...text.findings.map((f) => ({ ...f, source: `${database}: ${f.source}` })));
      const columns = await db('information_schema.columns')
        .where({ table_schema: 'public', data_type: 'bytea' })
        .select<Array<{ table_name: string; column_name: string }>>('table_name', 'column_name');
      for (const c of columns) {
        if (!/^[a-z_][a-z0-9_]*$/.test(c.table_name) || !/^[a-z_][a-z0-9_]*$/.test(c.column_name)) continue;
        const hits: string[] = [];
        for (const [label, value] of needles) {
          const res = await db.raw<{ rows: Array<{ n: number }> }>(
            `select count(*)::int as n from "${c.table_name}" where position(convert_to(?, 'UTF8') in "${c.column_name}") > 0`,
            [value],
          );
          if ((res.rows[0]?.n ?? 0) > 0) hits.push(`${label} (${res.rows[0]!.n} rows)`);
        }
        if (hits.length > 0)
          findings.push({ source: `${database}: ${c.table_name}.${c.column_name}`, secrets: hits });
      }
    } finally {
      await db.destroy();
    }
  }
  return { findings, tables, rows };
}
