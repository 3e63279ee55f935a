// The time-step benchmark's database: a real jupyterlab-dsi file (jupyterlab_dsi/schema.sql, its
// pragmas, the rows the Python Store writes) of SIMS simulations x STEPS time steps x 3 distances
// for one method, written with sql.js in Node and cached in bench/.cache (rebuilt when this file,
// the schema or the sizes change). Deterministic: the same bytes on every machine.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const SCHEMA = path.join(ROOT, 'jupyterlab_dsi', 'schema.sql');
const APPLICATION_ID = 0x4a445349; // 'JDSI', as jupyterlab_dsi/store.py marks its files

/** The schema version schema.sql declares ('-- schema_version: N'), as the Python Store reads it. */
function schemaVersion(schema) {
  const match = /^-- schema_version: (\d+)$/m.exec(schema);
  if (!match) throw new Error(`${SCHEMA} has no '-- schema_version: N' line`);
  return Number(match[1]);
}

/**
 * A prepared INSERT naming its columns: the columns this file fills, by name, so that a column
 * the schema adds later takes its default (or fails loudly as NOT NULL) instead of shifting
 * every value by one. Table and column names are the constants below, never data.
 */
function inserter(db, table, columns) {
  return db.prepare(
    `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`
  );
}

function insertRow(db, table, row) {
  const stmt = inserter(db, table, Object.keys(row));
  try {
    stmt.run(Object.values(row));
  } finally {
    stmt.free();
  }
}

// The same parameters as bench/data.ts (7 categorical, 3 to 5 levels).
const PARAMETERS = [
  ['material', ['Al', 'Cu', 'Fe']],
  ['velocity', [1, 2, 3, 4, 5]],
  ['angle', [0, 15, 30, 45]],
  ['thickness', [0.5, 1, 2]],
  ['shape', ['sphere', 'rod', 'plate', 'cone']],
  ['eos', ['ideal', 'mie', 'sesame', 'jwl', 'tab']],
  ['resolution', [64, 128, 256]]
];

const METHOD_ID = 'bench-method-l2';

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Path of the cached database for these sizes, built if missing or stale. */
async function timeStepDatabase(cacheDir, sims, steps) {
  const schema = fs.readFileSync(SCHEMA, 'utf8');
  const key = crypto
    .createHash('sha256')
    .update(fs.readFileSync(__filename))
    .update(schema)
    .update(`${sims}x${steps}`)
    .digest('hex')
    .slice(0, 12);
  const file = path.join(cacheDir, `timestep-${sims}x${steps}-${key}.sqlite`);
  if (fs.existsSync(file)) {
    return { file, methodId: METHOD_ID, built: false };
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  for (const old of fs.readdirSync(cacheDir)) {
    if (old.startsWith('timestep-')) fs.rmSync(path.join(cacheDir, old));
  }
  const initSqlJs = require('sql.js');
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  try {
    db.exec(schema);
    db.exec(`PRAGMA application_id = ${APPLICATION_ID}; PRAGMA user_version = ${schemaVersion(schema)};`);
    db.exec('BEGIN');
    const now = '2025-01-01T00:00:00Z';
    insertRow(db, 'jdsi_source', {
      id: 'bench-src',
      kind: 'ensemble',
      path: '/bench/ensemble',
      sha256: '0'.repeat(64),
      size_bytes: 0,
      ingested_at: now
    });
    PARAMETERS.forEach(([name, levels], position) =>
      insertRow(db, 'jdsi_parameter', {
        name,
        kind: 'categorical',
        levels: JSON.stringify(levels),
        unit: null,
        position
      })
    );
    const times = JSON.stringify(Array.from({ length: steps }, (_, t) => t * 0.25));
    const random = prng(7);
    const ids = Array.from({ length: sims }, (_, i) => 'sim' + String(i).padStart(5, '0'));
    const sim = inserter(db, 'jdsi_simulation', ['sim_id', 'path', 'sha256', 'times', 'source_id']);
    const value = inserter(db, 'jdsi_param_value', ['sim_id', 'name', 'value']);
    const effect = new Float64Array(sims);
    for (const id of ids) {
      sim.run([id, `${id}.npz`, null, times, 'bench-src']);
    }
    ids.forEach((id, i) => {
      for (const [name, levels] of PARAMETERS) {
        const code = Math.floor(random() * levels.length);
        effect[i] += code / levels.length;
        value.run([id, name, levels[code]]);
      }
    });
    sim.free();
    value.free();
    insertRow(db, 'jdsi_ground_truth', { id: 'bench-gt', sim_id: ids[0], description: '', created_at: now });
    // The other columns (geometry, match_time, field, ...) take the schema's defaults.
    insertRow(db, 'jdsi_method', {
      id: METHOD_ID,
      ground_truth_id: 'bench-gt',
      norm: 'L2',
      gt_time: null,
      description: 'benchmark method',
      code_version: 'bench',
      created_at: now
    });
    const distance = inserter(db, 'jdsi_distance', ['method_id', 't', 'sim_id', 'd_shock', 'd_edge', 'd_density']);
    for (let t = 0; t < steps; t++) {
      const grow = 1 + t / steps;
      ids.forEach((id, i) => {
        // Distances grow with t and with the parameters' effect; about 1% undefined density.
        const shock = grow * (effect[i] + random());
        const edge = grow * (0.5 * effect[i] + random());
        const density = random() < 0.01 ? null : grow * (effect[i] * random() + random());
        distance.run([METHOD_ID, t, id, shock, edge, density]);
      });
    }
    distance.free();
    db.exec('COMMIT');
    fs.writeFileSync(file + '.tmp', db.export());
    fs.renameSync(file + '.tmp', file);
  } finally {
    db.close();
  }
  return { file, methodId: METHOD_ID, built: true };
}

module.exports = { timeStepDatabase, METHOD_ID };
