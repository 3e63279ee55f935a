/**
 * A task that never runs twice at once, and whose callers all see a run that started after
 * they asked: a call while a run is in flight gets the one run queued after it (shared by every
 * call meanwhile, so a burst of calls makes at most one more run). The catch-ups of a panel
 * with the file: two at once would download and open the replica twice, and an older answer
 * could land after a newer one.
 */
export function coalesced(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  const start = (): Promise<void> => {
    const run = task();
    running = run;
    // Registered before any caller's await: the state is settled when a caller resumes.
    const settle = (): void => {
      if (running === run) {
        running = null;
      }
    };
    run.then(settle, settle);
    return run;
  };
  return () => {
    if (queued) {
      return queued; // asked before it starts: it is a run after this ask
    }
    if (!running) {
      return start();
    }
    const after = running.then(
      () => undefined,
      () => undefined
    );
    queued = after.then(() => {
      queued = null;
      return start();
    });
    return queued;
  };
}
