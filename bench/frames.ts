/**
 * Frame bookkeeping, imported first by page.ts so that it runs before any library captures
 * `requestAnimationFrame` (d3-timer binds it when its module loads).
 *
 * Libraries often draw in a requestAnimationFrame callback, and one that schedules another
 * from there draws a frame later still. `settle()` waits for painted frames until no callback
 * that a library queued is pending: the interaction's pixels are then all on screen. The
 * harness's own callbacks use the native function and are not counted.
 */
const nativeRequest = window.requestAnimationFrame.bind(window);
const nativeCancel = window.cancelAnimationFrame.bind(window);
const pending = new Set<number>();

window.requestAnimationFrame = (callback: FrameRequestCallback): number => {
  const id = nativeRequest(time => {
    pending.delete(id);
    callback(time);
  });
  pending.add(id);
  return id;
};

window.cancelAnimationFrame = (id: number): void => {
  pending.delete(id);
  nativeCancel(id);
};

/** A frame callback of the harness's own (not counted as pending drawing). */
export const harnessFrame = nativeRequest;

/** Resolves once the next frame has been painted (its style, layout, paint and commit done). */
export function nextPaint(): Promise<number> {
  return new Promise(resolve => {
    nativeRequest(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve(performance.now());
      };
      channel.port2.postMessage(null);
    });
  });
}

/** Most frames `settle` waits for (a library animating forever must not hang the bench). */
export const MAX_FRAMES = 12;

/**
 * Waits for the next painted frame, then for more while a library still has a frame callback
 * pending. Returns when the last of them was painted and how many frames that took.
 */
export async function settle(): Promise<{ painted: number; frames: number }> {
  let frames = 0;
  let painted = 0;
  do {
    painted = await nextPaint();
    frames += 1;
  } while (pending.size > 0 && frames < MAX_FRAMES);
  return { painted, frames };
}
