/**
 * JupyterLab's status bar item for post-processing started from a DSI Explorer: what runs and
 * how far it got, so the work stays visible when the panel is closed or scrolled away.
 */
import { Widget } from '@lumino/widgets';

import type { IJob } from '../server';
import { formatCount } from './dom';

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
    if (job && job.state === 'running') {
      this._jobs.set(owner, job);
    } else {
      this._jobs.delete(owner);
    }
    const jobs = [...this._jobs.values()];
    const done = jobs.reduce((a, j) => a + j.done, 0);
    const total = jobs.reduce((a, j) => a + j.total, 0);
    this.node.textContent = jobs.length
      ? `DSI: post-processing ${total ? `${formatCount(done)}/${formatCount(total)}` : '…'}`
      : '';
    this.node.title = jobs.map(j => `${j.path}: ${j.done} of ${j.total} simulations`).join('\n');
  }

  private readonly _jobs = new Map<object, IJob>();
}
