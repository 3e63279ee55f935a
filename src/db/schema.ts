/**
 * Constants of the jupyterlab-dsi database format.
 *
 * The single source of truth is `jupyterlab_dsi/schema.sql` (its `schema_version: N`
 * comment); the Python Store writes files with `PRAGMA application_id = APPLICATION_ID`
 * and `PRAGMA user_version = SCHEMA_VERSION`. A test checks the two agree.
 */

/** `PRAGMA application_id` of every jupyterlab-dsi database: 'JDSI' in ASCII. */
export const APPLICATION_ID = 0x4a445349;

/** The schema version this extension reads (`PRAGMA user_version`). */
export const SCHEMA_VERSION = 6;

/** Table names (every table carries the `jdsi_` prefix). */
export const Tables = {
  source: 'jdsi_source',
  parameter: 'jdsi_parameter',
  simulation: 'jdsi_simulation',
  paramValue: 'jdsi_param_value',
  groundTruth: 'jdsi_ground_truth',
  method: 'jdsi_method',
  distance: 'jdsi_distance',
  dataset: 'jdsi_dataset',
  datasetMember: 'jdsi_dataset_member',
  tombstone: 'jdsi_tombstone',
  event: 'jdsi_event',
  metric: 'jdsi_metric',
  metricValue: 'jdsi_metric_value',
  split: 'jdsi_split',
  splitMember: 'jdsi_split_member',
  run: 'jdsi_run',
  runParam: 'jdsi_run_param',
  runMetric: 'jdsi_run_metric',
  prediction: 'jdsi_prediction',
  artifact: 'jdsi_artifact',
  stale: 'jdsi_stale',
  proposal: 'jdsi_proposal',
  proposalPoint: 'jdsi_proposal_point',
  simProposal: 'jdsi_sim_proposal'
} as const;

/** The name of one jupyterlab-dsi table. */
export type TableName = (typeof Tables)[keyof typeof Tables];

/** Every table the schema defines; a file lacking one of them is damaged. */
export const ALL_TABLES: readonly TableName[] = Object.values(Tables);

/** Format a 32-bit application id as `0x4A445349`. */
export function formatApplicationId(id: number): string {
  return '0x' + (id >>> 0).toString(16).toUpperCase().padStart(8, '0');
}
