import { PromiseDelegate } from '@lumino/coreutils';

import { oneAtATime } from '../oneAtATime';

describe('oneAtATime', () => {
  it('skips calls while one runs, and runs again once it has ended', async () => {
    const gates: PromiseDelegate<void>[] = [];
    const run = oneAtATime(() => {
      const gate = new PromiseDelegate<void>();
      gates.push(gate);
      return gate.promise;
    });
    const first = run();
    expect(await run()).toBe(false); // the second poll while the first waits on the server
    expect(await run()).toBe(false);
    expect(gates).toHaveLength(1);
    gates[0].resolve();
    expect(await first).toBe(true);
    const next = run();
    expect(gates).toHaveLength(2);
    gates[1].resolve();
    expect(await next).toBe(true);
  });

  it('runs again after a task that failed', async () => {
    let calls = 0;
    const run = oneAtATime(async () => {
      calls += 1;
      if (calls === 1) {
        throw new Error('the server went away');
      }
    });
    await expect(run()).rejects.toThrow('the server went away');
    expect(await run()).toBe(true);
    expect(calls).toBe(2);
  });
});
