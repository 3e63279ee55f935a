/**
 * Reading rows with bound parameters, for every module of the replica (api.ts, runs.ts).
 */
import type { Database, SqlValue } from 'sql.js';

/** One row as an object keyed by column name. */
export type Row = Record<string, SqlValue>;

/** Every row of `sql` with `params` bound. */
export function queryAll(db: Database, sql: string, params: SqlValue[] = []): Row[] {
  const statement = db.prepare(sql);
  try {
    statement.bind(params);
    const rows: Row[] = [];
    while (statement.step()) {
      rows.push(statement.getAsObject());
    }
    return rows;
  } finally {
    statement.free();
  }
}
