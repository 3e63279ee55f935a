/**
 * The panel lists runs in the order the CLI does: integer ids as numbers (1, 2, 10, 100), then
 * the other ids as text (issue 14: DSI's 1,739 wildfire runs came out 1, 10, 100, 1000, ...).
 */
import * as fs from 'fs';
import * as path from 'path';

import initSqlJs from 'sql.js';

import { readBaseTable } from '../slices';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCHEMA_SQL = fs.readFileSync(path.join(ROOT, 'jupyterlab_dsi', 'schema.sql'), 'utf8');

test('integer run ids sort as numbers, before text ids', async () => {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  try {
    db.exec(SCHEMA_SQL);
    db.exec("INSERT INTO jdsi_source (id, kind, path, sha256, size_bytes, ingested_at) VALUES ('s', 'csv', 'x.csv', 'h', 1, 'now')");
    const insert = db.prepare("INSERT INTO jdsi_simulation (sim_id, source_id) VALUES (?, 's')");
    for (const id of ['100', 'b7', '2', '10', 'a', '1', '011', '9']) {
      insert.run([id]);
    }
    insert.free();
    expect(readBaseTable(db).ids).toEqual(['1', '2', '9', '10', '011', '100', 'a', 'b7']);
  } finally {
    db.close();
  }
});
