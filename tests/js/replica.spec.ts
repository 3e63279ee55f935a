/**
 * The panel's replica converges to the file (issue 7): random sequences of saves, retries with
 * the same id, deletes and undeletes are applied by the Python Store (the one writer, in a real
 * `.venv` Python), then the file's bytes are opened by the replica's DatabaseApi as the panel
 * does. The replica lists exactly the datasets, members, digests and tombstones Python reports,
 * and nothing acknowledged is lost. fast-check shrinks a failing sequence to a short one.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import fc from 'fast-check';
import initSqlJs from 'sql.js';
import type { SqlJsStatic } from 'sql.js';

import { DatabaseApi } from '../../src/db/api';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const JUPYTER = path.join(ROOT, '.venv', 'bin', 'jupyter');

/** Applies JSON ops read from stdin with the Store; answers what Python then sees. Data only. */
const APPLY = `
import json, sys
from jupyterlab_dsi.store import Store
from jupyterlab_dsi import datasets as ds
db, ops = sys.argv[1], json.load(sys.stdin)
acked = []
with Store(db) as store:
    method = store.methods()[0]["id"]
    for op in ops:
        if op["op"] == "save":
            rec = ds.save_dataset(store, members=op["members"], description=op["description"], name=op["name"],
                                  method_id=method, t=0, dataset_id=op["id"], settings={"version": 1})
            acked.append(rec["id"])
        elif op["op"] in ("delete", "undelete") and acked:
            act = ds.delete_dataset if op["op"] == "delete" else ds.undelete_dataset
            try:
                act(store, acked[op["k"] % len(acked)])
            except ds.DatasetError:
                pass  # deleting a deleted dataset (or restoring a live one) is refused: fine
    listing = [{"id": d["id"], "name": d["name"], "description": d["description"], "digest": d["digest"],
                "size": d["size"], "deleted": d["deleted"], "members": sorted(ds.members(store, d["id"]))}
               for d in ds.list_datasets(store, include_deleted=True)]
print(json.dumps({"acked": sorted(set(acked)), "datasets": sorted(listing, key=lambda d: d["id"])}))
`;

let SQL: SqlJsStatic;
let base: string;
let sims: string[];

beforeAll(async () => {
  SQL = await initSqlJs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-replica-'));
  execFileSync(JUPYTER, ['dsi', 'sample', path.join(dir, 'ens'), '--sims', '12', '--steps', '3', '--quiet']);
  base = path.join(dir, 'base.sqlite');
  execFileSync(JUPYTER, ['dsi', 'ingest', path.join(dir, 'ens'), '--db', base, '--quiet']);
  execFileSync(JUPYTER, ['dsi', 'postprocess', '--db', base, '--ground-truth', 'sim00000', '--norm', 'L2', '--quiet']);
  sims = Array.from({ length: 12 }, (_, i) => `sim${String(i).padStart(5, '0')}`);
}, 120000);

const TEXT = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('<script>alert(1)</script>', '{x} $x', "'; DROP TABLE jdsi_dataset; --", 'right\u202eleft', '😀')
);

describe('the replica converges to the file', () => {
  it('for random saves, retries, deletes and undeletes', () => {
    const ids = Array.from({ length: 6 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
    const op = fc.oneof(
      fc.record({
        op: fc.constant('save'),
        id: fc.constantFrom(...ids), // a repeated id is a retry: same content or refused
        name: TEXT,
        description: TEXT.filter(t => t.trim().length > 0),
        members: fc.subarray(Array.from({ length: 12 }, (_, i) => `sim${String(i).padStart(5, '0')}`), { minLength: 1 })
      }),
      fc.record({ op: fc.constantFrom('delete', 'undelete'), k: fc.nat(20) })
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 12 }), ops => {
        // A retry must carry the same content; keep the first version of each id, as a client would.
        const first = new Map<string, unknown>();
        const sequence = ops.map(o => {
          if (!('id' in o)) {
            return o;
          }
          const kept = (first.get(o.id) ?? o) as typeof o;
          first.set(o.id, kept);
          return kept;
        });
        const db = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dsi-run-')), 'db.sqlite');
        fs.copyFileSync(base, db);
        const out = execFileSync(PYTHON, ['-c', APPLY, db], { input: JSON.stringify(sequence), encoding: 'utf-8' });
        const python = JSON.parse(out) as { acked: string[]; datasets: { id: string; deleted: boolean; members: string[] }[] };
        const api = new DatabaseApi(SQL);
        api.open(new Uint8Array(fs.readFileSync(db)));
        const replica = api
          .datasets()
          .map(d => ({
            id: d.id,
            name: d.name,
            description: d.description,
            digest: d.digest,
            size: d.size,
            deleted: d.deleted,
            members: [...api.datasetMembers(d.id)].sort()
          }))
          .sort((a, b) => (a.id < b.id ? -1 : 1));
        expect(replica).toEqual(python.datasets);
        // Nothing acknowledged is lost: every acked id is in the file.
        expect(python.acked.every(id => replica.some(d => d.id === id))).toBe(true);
        expect(sims.length).toBe(12);
      }),
      { numRuns: 25, seed: 5 }
    );
  }, 300000);
});
