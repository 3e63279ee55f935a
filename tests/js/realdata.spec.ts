/**
 * Ensembles nobody on this project wrote (shared/realdata), on the panel's side (issue 9). The
 * real CloverLeaf ensemble that LANL's DSI wrote (dsi-clover3d), end to end: ingested and post-processed by the real `jupyter dsi` (.venv),
 * its file read by the replica as the panel reads it, and the explorer model on top. A user
 * opening it sees the parameters and metrics, the constant deck values kept aside, and, after
 * choosing the run of lowest state-2 density as ground truth, density distances that grow with
 * state2_density; a lasso there selects what `jupyter dsi select --where` selects. DSI's wildfire
 * table and a Cinema database, which have no fields and so no method, open with their
 * parameters and metrics as axes.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import initSqlJs from 'sql.js';
import type { SqlJsStatic } from 'sql.js';

import { DatabaseApi } from '../../src/db/api';
import { ExplorerModel, ISliceSource } from '../../src/model/explorer';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const JUPYTER = path.join(ROOT, '.venv', 'bin', 'jupyter');

/** The shared real inputs, found as the Python tests find them (tests/conftest.py). */
const REALDATA = [process.env.DSI_REALDATA ?? '', path.resolve(ROOT, '..', 'shared', 'realdata')].find(
  p => p && fs.existsSync(path.join(p, 'dsi-clover3d', 'dsi_clover3d.db'))
);
const CLOVER = REALDATA ? path.join(REALDATA, 'dsi-clover3d', 'dsi_clover3d.db') : '';
const describeReal = REALDATA ? describe : describe.skip;

const theme = () => ({ context: '#ccc', missing: '#999' });

let SQL: SqlJsStatic;
let dir: string;
let bare: string;
let processed: string;
let groundTruth: string;

function open(file: string): DatabaseApi {
  const api = new DatabaseApi(SQL);
  api.open(new Uint8Array(fs.readFileSync(file)));
  return api;
}

function source(api: DatabaseApi): ISliceSource {
  return {
    table: async () => api.table(),
    slice: async (methodId, t) => api.slice(methodId, t),
    methodInfo: async id => api.methodInfo(id)
  };
}

async function model(api: DatabaseApi): Promise<ExplorerModel> {
  const m = new ExplorerModel(source(api), theme);
  await m.load(api.methods());
  return m;
}

/** state2_density of each row, as the scatter plots it. */
function levels(m: ExplorerModel): number[] {
  return Array.from(m.scatterValues('state2_density')!);
}

beforeAll(async () => {
  SQL = await initSqlJs();
  if (!REALDATA) {
    return;
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-clover-'));
  bare = path.join(dir, 'bare.sqlite');
  execFileSync(JUPYTER, ['dsi', 'ingest', CLOVER, '--db', bare, '--quiet']);
  // The ground truth: the run of lowest state-2 density, whatever the ingest names it.
  const m = await model(open(bare));
  const lv = levels(m);
  groundTruth = m.table!.ids[lv.indexOf(Math.min(...lv))];
  processed = path.join(dir, 'processed.sqlite');
  fs.copyFileSync(bare, processed);
  execFileSync(JUPYTER, ['dsi', 'postprocess', '--db', processed, '--ground-truth', groundTruth, '--norm', 'L2', '--quiet']);
}, 180000);

describeReal('the CloverLeaf database from DSI', () => {
  it('reads number metrics per run and per step, text ones as categories', () => {
    const api = open(bare);
    const base = api.table();
    expect(base.ids.length).toBe(8);
    // Numeric, or categorical with numeric levels: either way plotted at its values.
    expect(base.parameters.some(p => p.name === 'state2_density')).toBe(true);
    const xCells = base.runMetrics.find(m => m.name === 'x_cells')!;
    expect(Array.from(xCells.values!)).toEqual(new Array(8).fill(60));
    expect(base.runMetrics.find(m => m.name === 'state2_geometry')?.kind).toBe('categorical');
    expect(base.runMetrics.some(m => m.name === 'image_filepath')).toBe(false); // a file, not a value
    const wall = base.stepMetrics.find(m => m.name === 'wall_clock')!;
    expect(wall).toMatchObject({ perStep: true, varies: true, empty: false });
    expect(base.metricSteps).toBeGreaterThan(1);
    expect(api.summary().timeSteps).toBe(base.metricSteps); // the steps the panel offers

    const slice = api.slice(null, 1);
    expect(Array.from(slice.dDensity).every(Number.isNaN)).toBe(true);
    const wallAt1 = slice.metrics.find(m => m.name === 'wall_clock')!.values;
    expect(Array.from(wallAt1).every(Number.isFinite)).toBe(true);
  });

  it('opens with no method: parameters and varying metrics as axes, constants aside', async () => {
    const api = open(bare);
    expect(api.methods()).toEqual([]);
    const m = await model(api);
    expect(m.method).toBeNull();
    expect([...levels(m)].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(m.steps).toBe(api.table().metricSteps);
    expect(m.axes).toContain('state2_density');
    expect(m.axes).toContain('wall_clock');
    expect(m.columnNames).not.toContain('x_cells');
    expect(m.columnNames).not.toContain('d_density');
    expect(m.aside).toContainEqual({ name: 'x_cells', value: '60' });
    expect(m.aside).toContainEqual({ name: 'state2_geometry', value: 'rectangle' });
    const [x, y] = m.scatterAxes;
    expect(x).toBe('state2_density');
    expect(y).not.toBe(x);
    expect(m.scatterColumns).toContain(y);
  });

  it('after post-processing: d_density grows with state2_density, d_shock and d_edge are not offered', async () => {
    const api = open(processed);
    const [method] = api.methods();
    expect(api.methodInfo(method.id).distances).toEqual(['d_density']);
    const m = await model(api);
    expect(m.columnNames).not.toContain('d_shock');
    expect(m.columnNames).not.toContain('d_edge');
    expect(m.axes.slice(-2)).toEqual(['d_density', 'd_feature']);
    expect(m.feature).toEqual({ d_density: 1 });
    expect(m.scatterAxes).toEqual(['state2_density', 'd_density']);
    const lv = levels(m);
    const density = m.scatterValues('d_density')!;
    const byLevel = lv.map((level, i) => [level, density[i]]).sort((a, b) => a[0] - b[0]);
    expect(byLevel[0][1]).toBe(0); // the ground truth against itself
    for (let k = 1; k < byLevel.length; k++) {
      expect(byLevel[k][1]).toBeGreaterThan(byLevel[k - 1][1]);
    }
  });

  it("selects with a lasso what `jupyter dsi select --where` selects from the filter string", async () => {
    const api = open(processed);
    const m = await model(api);
    m.setShapes([{ kind: 'lasso', op: 'replace', polygon: [[5.5, -1], [10, -1], [10, 5], [5.5, 5]] }]);
    expect(m.filter).toMatch(/^\(state2_density, d_density\) in polygon /);
    const panel = m.table!.ids.filter((_, i) => m.selected[i]).sort();
    expect(panel.length).toBe(4);
    const out = execFileSync(
      JUPYTER,
      ['dsi', 'select', '--db', processed, '--method', m.method!.id, '--time', String(m.t), '--where', m.filter, '--format', 'json', '--quiet'],
      { encoding: 'utf-8' }
    );
    const python = (JSON.parse(out) as { sim_id: string }[]).map(r => r.sim_id).sort();
    expect(panel).toEqual(python);
  });

  it('saves a dataset with no method; the replica reads its terms and settings back', async () => {
    const file = path.join(dir, 'saved.sqlite');
    fs.copyFileSync(bare, file);
    const m = await model(open(file));
    m.setFeature({ wall_clock: 1, state1_density: 0.5 });
    m.setBrush('wall_clock', { kind: 'numeric', ranges: [{ lo: -1e9, hi: 1e9 }] });
    const members = m.table!.ids.filter((_, i) => m.selected[i]);
    // What the panel's save sends (IDatasetRequest), stored by the one writer.
    const request = { members, description: 'no method', method_id: null, t: m.t, weights: m.feature, filter: m.filter, settings: m.settings };
    execFileSync(
      PYTHON,
      [
        '-c',
        `import json, sys
from jupyterlab_dsi.store import Store
from jupyterlab_dsi import datasets as ds
r = json.load(sys.stdin)
with Store(sys.argv[1]) as store:
    ds.save_dataset(store, **r)`,
        file
      ],
      { input: JSON.stringify(request) }
    );
    const api = open(file);
    const [dataset] = api.datasets();
    expect(dataset.methodId).toBeNull();
    expect(dataset.weights).toEqual({ wall_clock: 1, state1_density: 0.5 });
    expect(Object.keys(dataset.weights!)).toEqual(['wall_clock', 'state1_density']);
    const again = await model(api);
    await again.restore(dataset.settings as never);
    expect(again.feature).toEqual(m.feature);
    expect(again.filter).toBe(m.filter);
    expect(again.count).toBe(members.length);
  });
});

describeReal('tables without fields (no method)', () => {
  function ingest(source: string): string {
    const db = path.join(dir, `${path.basename(source)}.sqlite`);
    execFileSync(JUPYTER, ['dsi', 'ingest', path.join(REALDATA!, source), '--db', db, '--quiet']);
    return db;
  }

  it("DSI's wildfire runs: parameters and burned_area as axes; a brush selects what Python selects", async () => {
    const db = ingest('dsi-wildfire/dsi_wildfire.db');
    const m = await model(open(db));
    expect(m.method).toBeNull();
    expect(m.count).toBe(1889);
    expect(m.axes).toEqual(expect.arrayContaining(['wind_speed', 'burned_area']));
    const [x, y] = m.scatterAxes;
    expect(x).not.toBe(y);
    expect(m.scatterColumns).toEqual(expect.arrayContaining([x, y]));
    const area = m.column('burned_area')!;
    const values = area.kind === 'numeric' ? Array.from(area.values).filter(Number.isFinite) : [];
    const top = Math.max(...values);
    m.setBrush('burned_area', { kind: 'numeric', ranges: [{ lo: top / 2, hi: top }] });
    expect(m.filter).toMatch(/^burned_area between /);
    const out = execFileSync(JUPYTER, ['dsi', 'select', '--db', db, '--where', m.filter, '--format', 'json', '--quiet'], {
      encoding: 'utf-8'
    });
    expect(m.count).toBeGreaterThan(0);
    expect((JSON.parse(out) as unknown[]).length).toBe(m.count);
  });

  it('a Cinema database: phi is the axis, theta (0 in every row) is kept aside', async () => {
    const m = await model(open(ingest('cinema/sphere.cdb')));
    expect(m.count).toBe(20);
    expect(m.axes).toEqual(['phi']);
    expect(m.aside).toContainEqual({ name: 'theta', value: '0' });
    expect(m.scatterAxes).toEqual(['phi', 'phi']); // the one plottable column
  });
});

