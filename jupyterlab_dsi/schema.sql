-- jupyterlab-dsi database schema, read by the Python Store (which creates and migrates files)
-- and by the TypeScript replica's tests. Every table carries the jdsi_ prefix so that it never
-- collides with the tables LANL's DSI writes (simulation, dsi_units, runTable, *_datacard).
--
-- The file is marked with PRAGMA application_id = 0x4A445349 ('JDSI') and PRAGMA user_version =
-- the schema version below. Records are immutable and keyed by UUID: a change is a new record
-- with a parent link, a delete is a row in jdsi_tombstone.
--
-- schema_version: 6

-- Every ingested file or database, never modified; sha256 proves which bytes were read.
CREATE TABLE jdsi_source (
  id          TEXT PRIMARY KEY,
  kind        TEXT NOT NULL,
  path        TEXT NOT NULL,
  sha256      TEXT NOT NULL,
  size_bytes  INTEGER NOT NULL,
  ingested_at TEXT NOT NULL
);

-- The initial conditions: kind, ordered levels (JSON array) for categorical ones, unit.
CREATE TABLE jdsi_parameter (
  name     TEXT PRIMARY KEY,
  kind     TEXT NOT NULL CHECK (kind IN ('categorical', 'numeric')),
  levels   TEXT,
  unit     TEXT,
  position INTEGER NOT NULL
);

-- One row per simulation: its data file (relative to the source's folder), that file's SHA-256
-- at ingest, and its time values (JSON array).
CREATE TABLE jdsi_simulation (
  sim_id    TEXT PRIMARY KEY,
  path      TEXT,
  sha256    TEXT,
  times     TEXT NOT NULL DEFAULT '[]',
  source_id TEXT NOT NULL REFERENCES jdsi_source (id)
);

-- Parameter values, one row per (simulation, parameter); REAL for numbers, TEXT otherwise.
CREATE TABLE jdsi_param_value (
  sim_id TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  name   TEXT NOT NULL REFERENCES jdsi_parameter (name),
  value,
  PRIMARY KEY (sim_id, name)
) WITHOUT ROWID;

-- What an ingested source measured per run or per step (schema 2): number, text or file (a
-- path relative to the source, never required to exist). A per-run metric (per_step = 0) is
-- stored at t = 0 and holds at every step; a per-step one has a row per step index t.
CREATE TABLE jdsi_metric (
  name     TEXT PRIMARY KEY,
  kind     TEXT NOT NULL CHECK (kind IN ('number', 'text', 'file')),
  per_step INTEGER NOT NULL CHECK (per_step IN (0, 1)),
  unit     TEXT,
  position INTEGER NOT NULL
);

CREATE TABLE jdsi_metric_value (
  name   TEXT NOT NULL REFERENCES jdsi_metric (name),
  t      INTEGER NOT NULL,
  sim_id TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  value,
  PRIMARY KEY (name, t, sim_id)
) WITHOUT ROWID;

CREATE TABLE jdsi_ground_truth (
  id          TEXT PRIMARY KEY,
  sim_id      TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  description TEXT NOT NULL DEFAULT '',
  created_at  TEXT NOT NULL
);

-- How a set of distances was computed. gt_time NULL means matched (step t against step t).
-- geometry and match_time (schema 3) say how the distances were computed: the cell volumes
-- (NULL: the data's own, 'cartesian' or 'cylindrical') and which ground-truth step each step is
-- compared with ('index': the same index, 'nearest': the nearest in simulated time), and field
-- the cell array compared (its distances are the d_density column).
CREATE TABLE jdsi_method (
  id              TEXT PRIMARY KEY,
  ground_truth_id TEXT NOT NULL REFERENCES jdsi_ground_truth (id),
  norm            TEXT NOT NULL CHECK (norm IN ('L1', 'L2', 'Linf')),
  gt_time         INTEGER,
  description     TEXT NOT NULL DEFAULT '',
  code_version    TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  parent_id       TEXT REFERENCES jdsi_method (id),
  geometry        TEXT,
  match_time      TEXT NOT NULL DEFAULT 'index',
  field           TEXT NOT NULL DEFAULT 'density'
);

-- Post-processed data: ordered for fast (method, time) slices. NULL = undefined (empty D+).
CREATE TABLE jdsi_distance (
  method_id TEXT NOT NULL REFERENCES jdsi_method (id),
  t         INTEGER NOT NULL,
  sim_id    TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  d_shock   REAL,
  d_edge    REAL,
  d_density REAL,
  PRIMARY KEY (method_id, t, sim_id)
) WITHOUT ROWID;

-- Training dataset info; settings is versioned JSON of the GUI state that produced it.
-- feature (schema 3) holds d_feature's terms as a JSON object {column: weight}; NULL (datasets of
-- schema 2) means {"d_shock": w_shock, "d_edge": w_edge}. w_shock and w_edge repeat those two
-- terms (0 when absent) for readers that know only them.
CREATE TABLE jdsi_dataset (
  id                 TEXT PRIMARY KEY,
  name               TEXT NOT NULL,
  description        TEXT NOT NULL CHECK (length(trim(description)) > 0),
  created_at         TEXT NOT NULL,
  author             TEXT NOT NULL,
  method_id          TEXT REFERENCES jdsi_method (id),
  t                  INTEGER,
  w_shock            REAL NOT NULL DEFAULT 1.0,
  w_edge             REAL NOT NULL DEFAULT 1.0,
  filter             TEXT NOT NULL DEFAULT '',
  selection_kind     TEXT NOT NULL DEFAULT 'filter',
  selection_geometry TEXT,
  sampling           TEXT,
  settings           TEXT NOT NULL DEFAULT '{}',
  parent_id          TEXT REFERENCES jdsi_dataset (id),
  size               INTEGER NOT NULL,
  digest             TEXT NOT NULL,
  feature            TEXT
);

CREATE TABLE jdsi_dataset_member (
  dataset_id TEXT NOT NULL REFERENCES jdsi_dataset (id),
  sim_id     TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  PRIMARY KEY (dataset_id, sim_id)
) WITHOUT ROWID;

-- A split of a dataset's members into named parts (schema 4): deterministic and order-independent
-- (splits.py: a simulation's rank is unit(seed, "split:" + sim_id), the sampling hash), so the same
-- seed, fractions and members give the same parts in Python and TypeScript. names and fractions
-- are JSON arrays in part order; stratify names the parameter the parts were balanced on, or NULL.
-- digest: sha256 of a canonical JSON of the dataset digest, names, fractions, seed, stratify and
-- the sorted (part, sim_id) pairs.
CREATE TABLE jdsi_split (
  id          TEXT PRIMARY KEY,
  dataset_id  TEXT NOT NULL REFERENCES jdsi_dataset (id),
  names       TEXT NOT NULL,
  fractions   TEXT NOT NULL,
  seed        INTEGER NOT NULL,
  stratify    TEXT,
  digest      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  author      TEXT NOT NULL
);

CREATE TABLE jdsi_split_member (
  split_id TEXT NOT NULL REFERENCES jdsi_split (id),
  sim_id   TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  part     TEXT NOT NULL,
  PRIMARY KEY (split_id, sim_id)
) WITHOUT ROWID;

-- A training run (schema 4): the model trained on a dataset (and split). status is stored as
-- running, finished or failed; a running run whose process is gone is shown as interrupted
-- (runs.py: same host and pid not alive, or no heartbeat for a long time). error holds the last
-- line of a failed run's exception. code, environment and resources are JSON objects (git commit
-- and dirty flag, notebook; Python and library versions; wall_s, cpu_s, peak_rss_mb, gpus,
-- energy). A run changes only while running; ended runs are immutable.
CREATE TABLE jdsi_run (
  id           TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  description  TEXT NOT NULL DEFAULT '',
  dataset_id   TEXT REFERENCES jdsi_dataset (id),
  split_id     TEXT REFERENCES jdsi_split (id),
  status       TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  error        TEXT,
  started_at   TEXT NOT NULL,
  ended_at     TEXT,
  heartbeat_at TEXT,
  author       TEXT NOT NULL,
  host         TEXT NOT NULL,
  pid          INTEGER,
  code         TEXT NOT NULL DEFAULT '{}',
  environment  TEXT NOT NULL DEFAULT '{}',
  resources    TEXT NOT NULL DEFAULT '{}'
);

-- A run's parameters: value is JSON (numbers, strings, booleans, lists as logged).
CREATE TABLE jdsi_run_param (
  run_id TEXT NOT NULL REFERENCES jdsi_run (id),
  name   TEXT NOT NULL,
  value  TEXT NOT NULL,
  PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

-- A run's metric points: many thousands per run, appended in batches. value NULL: a NaN or an
-- infinity was logged (kept as missing). at: seconds since the epoch when it was logged.
CREATE TABLE jdsi_run_metric (
  run_id  TEXT NOT NULL REFERENCES jdsi_run (id),
  name    TEXT NOT NULL,
  context TEXT NOT NULL DEFAULT '',
  step    INTEGER NOT NULL DEFAULT 0,
  value   REAL,
  at      REAL NOT NULL
);

-- A run's prediction per simulation: target names what was predicted (a parameter, a metric or
-- any name the trainer chose); sigma2 the model's predictive variance, when it has one.
CREATE TABLE jdsi_prediction (
  run_id TEXT NOT NULL REFERENCES jdsi_run (id),
  sim_id TEXT NOT NULL REFERENCES jdsi_simulation (sim_id),
  target TEXT NOT NULL,
  value  REAL,
  sigma2 REAL,
  PRIMARY KEY (run_id, target, sim_id)
) WITHOUT ROWID;

-- What a run produced or read: a file named by its absolute path, size and SHA-256 when logged
-- (never copied unless asked: copied_to then names the copy).
CREATE TABLE jdsi_artifact (
  id         TEXT PRIMARY KEY,
  run_id     TEXT NOT NULL REFERENCES jdsi_run (id),
  kind       TEXT NOT NULL,
  path       TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256     TEXT NOT NULL,
  copied_to  TEXT,
  created_at TEXT NOT NULL
);

-- Records made stale by an upstream change (schema 4): a source whose bytes changed, a
-- simulation re-ingested with other data, a method recomputed. cause_id names what changed,
-- reason says how, in one line. Clearing is a new verify that finds the cause gone.
CREATE TABLE jdsi_stale (
  record_id TEXT NOT NULL,
  kind      TEXT NOT NULL,
  cause_id  TEXT NOT NULL,
  reason    TEXT NOT NULL,
  found_at  TEXT NOT NULL,
  PRIMARY KEY (record_id, cause_id)
) WITHOUT ROWID;

-- A proposal of what to simulate next (schema 5, issue 16 §1): seed 004's eq. 4 drawn over a
-- study set, recorded once and never changed. policy is JSON {tau, bounds, alpha, prior_column,
-- entropy_column, categorical, n, seed, target}; study_digest the SHA-256 of the study set's
-- canonical CSV bytes; run_id the run whose logged sigma2 made the study set (NULL for a file)
-- and dataset_id that run's dataset.
CREATE TABLE jdsi_proposal (
  id           TEXT PRIMARY KEY,
  created_at   TEXT NOT NULL,
  author       TEXT NOT NULL,
  policy       TEXT NOT NULL,
  study_digest TEXT NOT NULL,
  run_id       TEXT REFERENCES jdsi_run (id),
  dataset_id   TEXT REFERENCES jdsi_dataset (id),
  n            INTEGER NOT NULL
);

-- One proposed point: point_id is the output's proposal_id column, component the study row drawn
-- from, values the parameters as a JSON object.
CREATE TABLE jdsi_proposal_point (
  proposal_id TEXT NOT NULL REFERENCES jdsi_proposal (id),
  point_id    TEXT NOT NULL,
  component   INTEGER NOT NULL,
  "values"    TEXT NOT NULL,
  PRIMARY KEY (proposal_id, point_id)
) WITHOUT ROWID;

-- Which recorded proposal point a simulation was run for (schema 6, issue 16 §3): written by the
-- ingest of an ensemble whose simulations.csv has a proposal_id column (`sample --params`), in the
-- same transaction as the simulations. point_id is the proposal's point (jdsi_proposal_point).
CREATE TABLE jdsi_sim_proposal (
  sim_id      TEXT PRIMARY KEY REFERENCES jdsi_simulation (sim_id),
  proposal_id TEXT NOT NULL REFERENCES jdsi_proposal (id),
  point_id    TEXT NOT NULL
) WITHOUT ROWID;

-- A delete is a tombstone; removing the tombstone is the undo. The record itself never changes.
CREATE TABLE jdsi_tombstone (
  record_id  TEXT PRIMARY KEY,
  kind       TEXT NOT NULL,
  deleted_at TEXT NOT NULL,
  author     TEXT NOT NULL
);

-- Append-only log of every write; replicas catch up from the last seq they saw.
CREATE TABLE jdsi_event (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  at        TEXT NOT NULL,
  kind      TEXT NOT NULL,
  record_id TEXT NOT NULL,
  payload   TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX jdsi_param_value_by_name ON jdsi_param_value (name, value);
CREATE INDEX jdsi_method_by_ground_truth ON jdsi_method (ground_truth_id);
CREATE INDEX jdsi_dataset_member_by_sim ON jdsi_dataset_member (sim_id);
CREATE INDEX jdsi_split_by_dataset ON jdsi_split (dataset_id);
CREATE INDEX jdsi_run_by_dataset ON jdsi_run (dataset_id);
CREATE INDEX jdsi_run_metric_by_run ON jdsi_run_metric (run_id, name, context, step);
CREATE INDEX jdsi_artifact_by_run ON jdsi_artifact (run_id);
CREATE INDEX jdsi_proposal_by_run ON jdsi_proposal (run_id);
CREATE INDEX jdsi_proposal_point_by_point ON jdsi_proposal_point (point_id);
