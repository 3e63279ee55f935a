/**
 * coalesced (issue 18): the panel's catch-ups never overlap; calls during a run share one more
 * run after it; every call resolves only after a run that began after it.
 */
import { coalesced } from '../coalesced';

function gate() {
  const runs: { started: number; finish: () => void; fail: (e: Error) => void }[] = [];
  let active = 0;
  let most = 0;
  const task = () =>
    new Promise<void>((resolve, reject) => {
      active++;
      most = Math.max(most, active);
      runs.push({
        started: runs.length,
        finish: () => {
          active--;
          resolve();
        },
        fail: e => {
          active--;
          reject(e);
        }
      });
    });
  return { runs, task, most: () => most };
}

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

describe('coalesced', () => {
  it('runs at most one more after the running one, shared by every call meanwhile', async () => {
    const g = gate();
    const call = coalesced(g.task);
    const done: string[] = [];
    const first = call().then(() => done.push('first'));
    const second = call().then(() => done.push('second'));
    const third = call().then(() => done.push('third'));
    await flush();
    expect(g.runs).toHaveLength(1);
    g.runs[0].finish();
    await flush();
    // The first caller is caught up; the others asked after the first run began: they wait.
    expect(done).toEqual(['first']);
    expect(g.runs).toHaveLength(2);
    g.runs[1].finish();
    await Promise.all([first, second, third]);
    expect(done).toEqual(['first', 'second', 'third']);
    expect(g.runs).toHaveLength(2);
    expect(g.most()).toBe(1);
  });

  it('starts afresh once idle, and a failed run neither blocks the queued one nor is hidden', async () => {
    const g = gate();
    const call = coalesced(g.task);
    const first = call();
    const second = call();
    await flush();
    g.runs[0].fail(new Error('server gone'));
    await expect(first).rejects.toThrow('server gone');
    await flush();
    expect(g.runs).toHaveLength(2);
    g.runs[1].finish();
    await second;
    const third = call();
    await flush();
    expect(g.runs).toHaveLength(3);
    g.runs[2].finish();
    await third;
    expect(g.most()).toBe(1);
  });

  it('a call made when a caller resumes from a finished run starts a new run, never a second at once', async () => {
    const g = gate();
    const call = coalesced(g.task);
    let again: Promise<void> | null = null;
    const first = call().then(() => {
      again = call();
    });
    await flush();
    g.runs[0].finish();
    await first;
    expect(g.runs).toHaveLength(2);
    g.runs[1].finish();
    await again;
    expect(g.most()).toBe(1);
  });
});

describe('coalesced, a call between a run and the queued one', () => {
  it('joins the queued run instead of starting one beside it', async () => {
    const g = gate();
    const call = coalesced(g.task);
    let between: Promise<void> | null = null;
    const first = call().then(() => {
      between = call(); // the first run is over, the queued one not started yet
    });
    const queued = call();
    await flush();
    g.runs[0].finish();
    await first;
    await flush();
    expect(g.runs).toHaveLength(2);
    expect(g.most()).toBe(1);
    g.runs[1].finish();
    await Promise.all([queued, between]);
    expect(g.runs).toHaveLength(2);
  });
});
