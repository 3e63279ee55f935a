/**
 * Start the database worker and talk to it through comlink (see ./connect).
 *
 * Tests cannot load this module under jest (it uses `import.meta`, and jsdom has no Worker):
 * mock it with a factory, `jest.mock('../db/client', () => ({ createDatabaseClient: ... }))`,
 * drive `DatabaseApi` / `createWorkerApi` from ./api directly, and `connectDatabaseWorker`
 * from ./connect with a fake worker.
 */
import { connectDatabaseWorker, IConnectOptions, IDatabaseClient } from './connect';

export type { IDatabaseClient } from './connect';

/** Start a database worker. */
export function createDatabaseClient(options: IConnectOptions = {}): IDatabaseClient {
  // Written against the compiled lib/db/worker.js next to lib/db/client.js; rspack bundles it.
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  return connectDatabaseWorker(worker, options);
}
