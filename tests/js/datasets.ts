/**
 * Saved datasets as the replica lists them, and the Datasets page's options with nothing wired,
 * for the page's tests: each test names only what it is about.
 */
import type { IDatasetInfo } from '../../src/db/slices';
import type { IDatasetsPageOptions } from '../../src/panel/datasetsPage';

/** A live, fresh dataset of 3 members without a method; `extra` overrides any field. */
export function datasetInfo(id: string, name: string, extra: Partial<IDatasetInfo> = {}): IDatasetInfo {
  return {
    id,
    name,
    description: `about ${name}`,
    createdAt: '2026-01-01T00:00:00Z',
    author: 'me',
    methodId: null,
    t: null,
    weights: null,
    filter: '',
    selectionKind: 'filter',
    sampling: null,
    settings: null,
    parentId: null,
    size: 3,
    digest: `sha256:${id.repeat(12)}`,
    deleted: false,
    stale: [],
    ...extra
  };
}

/** The page's options on a file with no datasets, every action a no-op; `extra` wires some. */
export function pageOptions(extra: Partial<IDatasetsPageOptions> = {}): IDatasetsPageOptions {
  return {
    path: () => 'data/ens.sqlite',
    methods: () => [],
    load: async () => [],
    restore: async () => undefined,
    derive: async () => undefined,
    highlight: () => undefined,
    members: async () => [],
    describe: () => [],
    parameterNames: () => [],
    changed: async () => undefined,
    ...extra
  };
}
