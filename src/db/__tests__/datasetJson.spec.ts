/**
 * A dataset whose stored settings or sampling are not JSON (a hand edit, another tool) is still
 * listed, but says so in one line naming the column, instead of reading as "no settings" and
 * being restored as if it had been saved from the shell (issue 14, "errors that vanish").
 */
import * as fs from 'fs';
import * as path from 'path';

import initSqlJs from 'sql.js';

import { readDatasets } from '../slices';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const SCHEMA_SQL = fs.readFileSync(path.join(ROOT, 'jupyterlab_dsi', 'schema.sql'), 'utf8');

test('malformed settings or sampling JSON is named, well-formed JSON is read', async () => {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  try {
    db.exec(SCHEMA_SQL);
    const insert = db.prepare(
      `INSERT INTO jdsi_dataset (id, name, description, created_at, author, settings, sampling, size, digest)
       VALUES (?, ?, 'd', ?, 'me', ?, ?, 0, 'sha256:0')`
    );
    insert.run(['a', 'good', '2026-01-03', '{"version": 2, "axes": ["cs"]}', '{"p": 0.5, "seed": 1}']);
    insert.run(['b', 'broken settings', '2026-01-02', '{"version": 2, "axes": [', null]);
    insert.run(['c', 'broken sampling', '2026-01-01', '{}', '{p: 0.5}']);
    insert.free();
    const [good, settings, sampling] = readDatasets(db);

    expect(good.settings).toEqual({ version: 2, axes: ['cs'] });
    expect(good.sampling).toEqual({ p: 0.5, seed: 1 });
    expect(good.unreadable).toBeUndefined();

    expect(settings.settings).toBeNull();
    expect(settings.unreadable).toMatch(/^Dataset “broken settings”: its stored settings is not JSON \(.+\)\.$/);
    expect(settings.unreadable).not.toContain('\n');
    expect(sampling.unreadable).toMatch(/^Dataset “broken sampling”: its stored sampling is not JSON \(.+\)\.$/);
  } finally {
    db.close();
  }
});
