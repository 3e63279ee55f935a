/**
 * JupyterLab's status bar item for post-processing started from a DSI Explorer: what runs and
 * how far it got, so the work stays visible when the panel is closed or scrolled away.
 */
import { Widget } from '@lumino/widgets';

import type { IJob } from '../server';
import { formatCount } from './dom';

/** The status bar's text for the jobs not over yet; '' when there are none. */
export function statusText(jobs: IJob[]): string {
  const running = jobs.filter(j => j.state === 'running');
  const queued = jobs.length - running.length;
  if (!jobs.length) {
    return '';
  }
  // A ground truth on the fly (POST /distances) writes nothing: not called post-processing.
  const work = jobs.every(j => j.kind === 'distances') ? 'distances on the fly' : 'post-processing';
  if (!running.length) {
    return `DSI: ${work} queued${queued > 1 ? ` (${queued})` : ''}`;
  }
  const done = running.reduce((a, j) => a + j.done, 0);
  const total = running.reduce((a, j) => a + j.total, 0);
  const progress = total ? `${formatCount(done)}/${formatCount(total)}` : '…';
  return `DSI: ${work} ${progress}${queued ? `, ${formatCount(queued)} queued` : ''}`;
}

export class JobStatus extends Widget {
  constructor() {
    super();
    this.addClass('jp-DSI-jobStatus');
    this.node.setAttribute('data-testid', 'dsi-job-status');
    this.node.setAttribute('role', 'status');
  }

  /** Anything running? (the status bar hides the item otherwise) */
  get active(): boolean {
    return this._jobs.size > 0;
  }

  /** A panel's job moved on; null: that panel's job is over. */
  report(owner: object, job: IJob | null): void {
    if (job && (job.state === 'running' || job.state === 'queued')) {
      this._jobs.set(owner, job);
    } else {
      this._jobs.delete(owner);
    }
    this.node.textContent = statusText([...this._jobs.values()]);
    this.node.title = [...this._jobs.values()]
      .map(j => `${j.path}: ${j.state === 'queued' ? 'queued, waiting for a free job slot' : `${j.done} of ${j.total} simulations`}`)
      .join('\n');
  }

  private readonly _jobs = new Map<object, IJob>();
}
