/**
 * A task that never overlaps itself: a call while the previous one still runs is skipped (not
 * queued), so a timer that fires faster than the server answers does not pile up requests.
 */
export function oneAtATime(task: () => Promise<void>): () => Promise<boolean> {
  let running = false;
  return async () => {
    if (running) {
      return false;
    }
    running = true;
    try {
      await task();
      return true;
    } finally {
      running = false;
    }
  };
}
