/**
 * "New method…": a ground truth (typed, picked from the list, or clicked in the scatter), a norm,
 * how steps are matched (by index, by nearest simulated time, or one fixed ground-truth step),
 * the cell geometry, the field compared and a description; the server post-processes every simulation as a job
 * while the form shows its progress and can cancel it. Nothing is written until the job ends,
 * so a cancel leaves the database as it was.
 *
 * Its default action (issue 17 §2) computes the same distances on the fly without writing:
 * ScratchMethods asks the server (POST /distances), shows the answer as a scratch method of the
 * replica, and "Keep" stores it through the job above.
 */
import type { ISummary } from '../db/api';
import { decodeFrame } from '../db/frameCodec';
import { IDistancesHeader, IScratch, isScratch, scratchFromFrame, scratchLabel } from '../db/scratch';
import type { ExplorerModel } from '../model/explorer';
import { formatSimulatedTime } from '../model/steps';
import {
  cancelJob,
  DistancesAnswer,
  fetchDistances,
  fetchJob,
  IDistancesRequest,
  IJob,
  INewMethod,
  postDistances,
  ServerError,
  startMethod
} from '../server';
import { formatCount, h } from './dom';

const POLL_MS = 300;
const GEOMETRIES: [string, string][] = [
  ['', 'From the data'],
  ['cartesian', 'Cartesian (x, y): cell areas'],
  ['cylindrical', 'Cylindrical (R, z): R-weighted']
];
/** Values of the time select that are not a fixed ground-truth step. */
const MATCHED = { index: '', nearest: 'nearest' } as const;
const NORMS: [INewMethod['norm'], string][] = [
  ['L2', 'L2 (root mean square)'],
  ['L1', 'L1 (mean absolute)'],
  ['Linf', 'L∞ (largest difference)']
];

export interface IMethodFormOptions {
  path: () => string | null;
  /** The job moved on (the status bar shows it); null when it is over. */
  onJob: (job: IJob | null) => void;
  /** The new method is in the file: the panel catches up and shows it. */
  onCreated: (methodId: string) => Promise<void>;
  /** Compute on the fly (absent: the form only saves). */
  scratch?: ScratchMethods;
}

export class MethodForm {
  readonly node: HTMLFormElement;

  constructor(
    private readonly _model: ExplorerModel,
    private readonly _options: IMethodFormOptions
  ) {
    this._groundTruth.className = this._description.className = 'jp-DSI-pathInput jp-mod-styled';
    this._groundTruth.setAttribute('list', this._list.id);
    this._groundTruth.placeholder = 'a sim_id, or click a point in the scatter';
    this._groundTruth.setAttribute('aria-label', 'Ground truth simulation');
    this._groundTruth.required = true;
    this._norm.className = this._time.className = this._geometry.className = 'jp-DSI-select jp-mod-styled';
    this._geometry.setAttribute('aria-label', 'Geometry');
    this._field.className = 'jp-DSI-pathInput jp-mod-styled';
    this._field.value = 'density';
    this._field.required = true;
    this._field.setAttribute('aria-label', 'Field');
    this._field.title = 'The cell array compared (VTK files: density, energy, pressure…); its distances are d_density';
    this._geometry.replaceChildren(...GEOMETRIES.map(([value, label]) => h('option', { value }, label)));
    this._norm.setAttribute('aria-label', 'Norm');
    this._norm.replaceChildren(...NORMS.map(([value, label]) => h('option', { value }, label)));
    this._time.setAttribute('aria-label', 'Ground-truth time');
    this._description.rows = 2;
    this._description.setAttribute('aria-label', 'Method description');
    this._description.placeholder = 'Why this ground truth and norm?';
    this._progress.max = 1;
    this._progress.value = 0;
    this._progress.hidden = true;
    this._message.setAttribute('role', 'status');
    this._message.setAttribute('data-testid', 'dsi-method-message');
    this._submit.className = 'jp-DSI-button jp-mod-styled jp-mod-accept';
    this._save.className = 'jp-DSI-button jp-mod-styled';
    this._save.type = 'button';
    this._save.title = 'Post-process every simulation on the server and store the method in the file';
    this._save.addEventListener('click', () => void this._start());
    this._save.hidden = !_options.scratch;
    if (_options.scratch) {
      this._submit.title = 'Compute every run’s distances now and show them as a scratch method; nothing is written (Keep stores it)';
    }
    this._cancel.className = 'jp-DSI-button jp-mod-styled';
    this._cancel.type = 'button';
    this._cancel.addEventListener('click', () => void this._onCancel());
    const field = (label: string, control: HTMLElement) =>
      h('label', { class: 'jp-DSI-field' }, h('span', { class: 'jp-DSI-fieldLabel' }, label), control);
    this.node = h(
      'form',
      { class: 'jp-DSI-saveForm jp-DSI-methodForm', 'aria-label': 'Post-process a new method', hidden: '' },
      h('h3', {}, 'New method'),
      field('Ground truth', this._groundTruth),
      this._list,
      field('Norm', this._norm),
      field('Ground-truth time', this._time),
      field('Geometry', this._geometry),
      field('Field', this._field),
      field('Description', this._description),
      this._progress,
      this._message,
      h('div', { class: 'jp-DSI-formButtons' }, this._cancel, this._save, this._submit)
    );
    this.node.addEventListener('submit', event => {
      event.preventDefault();
      void (this._options.scratch ? this._onTheFly() : this._start());
    });
  }

  get isOpen(): boolean {
    return !this.node.hidden;
  }

  open(): void {
    const model = this._model;
    const ids = model.table?.ids ?? [];
    this._list.replaceChildren(...ids.map(id => h('option', { value: id })));
    const steps = Math.max(model.steps, model.times.length);
    this._time.replaceChildren(
      h('option', { value: MATCHED.index }, 'Matched: step t against step t'),
      h('option', { value: MATCHED.nearest }, 'Matched: each step against the nearest in time'),
      ...Array.from({ length: steps }, (_, i) => h('option', { value: String(i) }, `Every step against step ${i}${model.times[i] !== undefined ? ` (time ${formatSimulatedTime(model.times[i])})` : ''}`))
    );
    if (!this._groundTruth.value && model.method) {
      this._groundTruth.value = model.method.groundTruth;
    }
    this.node.hidden = false;
    this._render();
    this._groundTruth.focus();
  }

  close(): void {
    if (!this._job) {
      this.node.hidden = true;
    }
  }

  /** A point clicked in the scatter becomes the ground truth while the form is open. */
  pick(simId: string): void {
    if (this.isOpen && !this._job) {
      this._groundTruth.value = simId;
      this._setMessage(`Ground truth: ${simId} (picked in the scatter).`);
    }
  }

  dispose(): void {
    window.clearTimeout(this._timer);
  }

  /** The form's ground truth, norm and steps; null (and a message) when no ground truth is given. */
  private _request(): INewMethod | null {
    const groundTruth = this._groundTruth.value.trim();
    if (!groundTruth) {
      this._setMessage('Type a sim_id or click a point in the scatter.', true);
      return null;
    }
    // A name that is no sim_id goes to the server as typed: it also knows the runs' folder names
    // (DSI numbers CloverLeaf's run_1 as simulation 1) and says so when it knows neither.
    const time = this._time.value;
    const fixed = time !== MATCHED.index && time !== MATCHED.nearest;
    return {
      ground_truth: groundTruth,
      norm: this._norm.value as INewMethod['norm'],
      gt_time: fixed ? Number(time) : null,
      match_time: time === MATCHED.nearest ? 'nearest' : 'index',
      geometry: (this._geometry.value || null) as INewMethod['geometry'],
      field: this._field.value.trim() || 'density',
      description: this._description.value.trim()
    };
  }

  private async _start(): Promise<void> {
    const path = this._options.path();
    if (!path || this._job) {
      return;
    }
    const body = this._request();
    if (!body) {
      return;
    }
    try {
      this._follow(await startMethod(path, body));
    } catch (error) {
      this._setMessage(`Not started: ${(error as Error).message}`, true);
    }
  }

  /** The default action: the same distances, computed now and shown as a scratch method. */
  private async _onTheFly(): Promise<void> {
    const scratch = this._options.scratch;
    const body = this._request();
    if (!scratch || !body || this._job) {
      return;
    }
    if (body.geometry !== null) {
      // The resident fields are compared with the data's own cell volumes only.
      this._setMessage('On the fly uses the data’s own geometry: choose “From the data”, or Save to post-process with another.', true);
      return;
    }
    this._setMessage(`Computing distances to ${body.ground_truth} on the fly…`);
    const shown = await scratch.compute({
      ground_truth: body.ground_truth,
      norm: body.norm,
      gt_time: body.gt_time,
      match_time: body.match_time,
      field: body.field
    });
    this._setMessage(
      shown ? `Shown as ${scratchLabel(shown)}: not saved. Keep (beside the method) or Save stores it.` : scratch.message,
      !shown
    );
  }

  /** Poll the job until it is over; the form and the status bar show each step. */
  private _follow(job: IJob): void {
    this._job = job;
    this._options.onJob(job);
    this._render();
    if (job.state === 'running' || job.state === 'queued') {
      this._timer = window.setTimeout(async () => {
        try {
          this._follow(await fetchJob(job.id));
        } catch (error) {
          this._finish(`Lost track of the job: ${(error as Error).message}`, true);
        }
      }, POLL_MS);
      return;
    }
    if (job.state === 'done' && job.result?.method_id) {
      const id = job.result.method_id;
      void this._options.onCreated(id).then(() =>
        this._finish(`New method computed for ${formatCount(job.total)} simulations in ${job.elapsed.toFixed(1)} s.`)
      );
    } else if (job.state === 'cancelled') {
      this._finish('Cancelled: nothing was written.');
    } else {
      this._finish(`Failed: ${job.message} Nothing was written.`, true);
    }
  }

  private _finish(message: string, error = false): void {
    this._job = null;
    this._options.onJob(null);
    this._render();
    this._setMessage(message, error);
  }

  private async _onCancel(): Promise<void> {
    const job = this._job;
    if (!job) {
      this.close();
      return;
    }
    this._cancel.disabled = true;
    this._setMessage('Cancelling…');
    try {
      await cancelJob(job.id);
    } catch (error) {
      this._setMessage(`Cannot cancel: ${(error as Error).message}`, true);
    }
  }

  private _render(): void {
    const job = this._job;
    const running = job?.state === 'running' || job?.state === 'queued';
    for (const control of [this._groundTruth, this._norm, this._time, this._geometry, this._field, this._description, this._submit, this._save]) {
      control.disabled = running;
    }
    this._cancel.disabled = false;
    this._cancel.textContent = running ? 'Cancel job' : 'Close';
    this._submit.textContent = this._options.scratch ? 'Compute on the fly (not saved)' : 'Compute';
    this._progress.hidden = !running;
    if (job && running) {
      this._progress.max = Math.max(1, job.total);
      this._progress.value = job.done;
      this._setMessage(
        job.state === 'queued'
          ? 'Queued: waiting for the server’s other post-processing jobs to finish…'
          : job.total
            ? `${formatCount(job.done)} of ${formatCount(job.total)} simulations · ${job.elapsed.toFixed(1)} s`
            : 'Starting…'
      );
    }
  }

  private _setMessage(text: string, error = false): void {
    this._message.textContent = text;
    this._message.className = error ? 'jp-DSI-error' : 'jp-DSI-hint';
  }

  private static _count = 0;
  private readonly _list = h('datalist', { id: `jp-dsi-sim-ids-${++MethodForm._count}` });
  private readonly _groundTruth = h('input', { type: 'text' });
  private readonly _norm = h('select', {});
  private readonly _time = h('select', {});
  private readonly _geometry = h('select', {});
  private readonly _field = h('input', { type: 'text' });
  private readonly _description = h('textarea', {});
  private readonly _progress = h('progress', { class: 'jp-DSI-progress', 'aria-label': 'Post-processing progress' });
  private readonly _message = h('div', {});
  private readonly _submit = h('button', { type: 'submit' }, 'Compute');
  private readonly _save = h('button', {}, 'Save');
  private readonly _cancel = h('button', {}, 'Close');
  private _job: IJob | null = null;
  private _timer = 0;
}

export interface IScratchOptions {
  path: () => string | null;
  /** Put a scratch into the worker's replica (null: take it out); answers the summary with it. */
  inject: (scratch: IScratch | null) => Promise<ISummary>;
  /** A job (computing or keeping) moved on (the status bar shows it); null when it is over. */
  onJob: (job: IJob | null) => void;
  /** Catch the replica up with the file (a kept method was written). */
  refresh: () => Promise<void>;
}

/** What the user waits for at most before the status line says how far the server got. */
const DISTANCES_POLL_MS = 200;

/** Two animation frames: the views redraw in the first after a model change. */
const painted = () => new Promise<void>(resolve => requestAnimationFrame(() => requestAnimationFrame(() => resolve())));

/**
 * The scratch method of one explorer: a ground truth's distances computed on the fly by the
 * server, shown as a method of the replica (db/scratch.ts) and never written. One at a time: a
 * new one replaces it. Its bar (under the controls) says how it was computed and offers Keep (store
 * it as a method: the same request through POST /methods, the same kernel) and Discard; while the
 * server computes it as a job, the bar shows progress and Cancel, and the status bar the job.
 */
export class ScratchMethods {
  readonly node: HTMLElement;

  constructor(
    private readonly _model: ExplorerModel,
    private readonly _options: IScratchOptions
  ) {
    this._progress.max = 1;
    this._progress.hidden = true;
    this._message.setAttribute('role', 'status');
    this._message.setAttribute('data-testid', 'dsi-scratch-message');
    for (const b of [this._cancel, this._keep, this._discard]) {
      b.className = 'jp-DSI-button jp-mod-styled';
      b.type = 'button';
    }
    this._keep.classList.add('jp-mod-accept');
    this._keep.title = 'Store these distances as a method in the file (post-processed on the server with the same ground truth, norm and steps)';
    this._discard.title = 'Go back to the method shown before and drop the scratch';
    this._cancel.addEventListener('click', () => void this._cancelJob());
    this._keep.addEventListener('click', () => void this.keep());
    this._discard.addEventListener('click', () => void this.discard());
    this.node = h(
      'div',
      { class: 'jp-DSI-scratchBar', 'data-testid': 'dsi-scratch', hidden: '' },
      this._message,
      this._progress,
      h('span', { class: 'jp-DSI-scratchButtons' }, this._cancel, this._discard, this._keep)
    );
    this._render();
  }

  /** The scratch shown (null: none). */
  get current(): IScratch | null {
    return this._scratch;
  }

  /** The bar's last line (what happened, or why not). */
  get message(): string {
    return this._message.textContent ?? '';
  }

  /** Milliseconds from the last request to its redrawn views (NaN before the first). */
  get lastMs(): number {
    return this._lastMs;
  }

  /**
   * Compute `request`'s distances on the server and show them as the explorer's method; answers
   * the scratch shown, or null (the bar says why: an error, a cancel, a newer request).
   */
  async compute(request: IDistancesRequest): Promise<IScratch | null> {
    const path = this._options.path();
    if (!path) {
      return null;
    }
    if (this._job?.kind === 'postprocess') {
      this._say('Keep is storing the scratch shown: wait for it, or cancel it, before another ground truth.', true);
      return null;
    }
    const ticket = ++this._ticket;
    const started = performance.now();
    await this._cancelJob(); // an older request's job: its answer would be dropped anyway
    this._say(`Computing distances to ${request.ground_truth} (${request.norm}) on the fly…`);
    let answer: DistancesAnswer;
    let mine: IJob | null = null; // the job this request polls
    try {
      answer = await postDistances(path, request);
      while (answer.job) {
        if (ticket !== this._ticket) {
          this._endJobOf(answer.job);
          return null;
        }
        mine = answer.job;
        this._job = answer.job;
        this._options.onJob(answer.job);
        this._render();
        await new Promise(resolve => setTimeout(resolve, DISTANCES_POLL_MS));
        answer = await fetchDistances(answer.job.id);
      }
    } catch (error) {
      if (ticket !== this._ticket && mine) {
        this._endJobOf(mine); // superseded (its job cancelled): the status bar forgets it
      }
      if (ticket === this._ticket) {
        this._endJob();
        const cancelled = error instanceof ServerError && error.status === 409;
        this._say(cancelled ? 'Cancelled: the distances shown did not change.' : `Not computed: ${(error as Error).message}`, !cancelled);
      }
      return null;
    }
    if (ticket !== this._ticket) {
      return null;
    }
    this._endJob();
    try {
      const frame = decodeFrame<IDistancesHeader>(answer.frame);
      const scratch = scratchFromFrame(frame);
      // Another database opened meanwhile: these distances are not its runs'.
      if (this._options.path() !== path) {
        return null;
      }
      const summary = await this._options.inject(scratch);
      if (ticket !== this._ticket) {
        return null;
      }
      if (!isScratch(this._model.method)) {
        this._before = this._model.method?.id ?? null; // what Discard goes back to
      }
      this._scratch = scratch;
      this._model.setMethods(summary.methods);
      if (this._model.method?.id === scratch.id) {
        await this._model.reloadMethod(); // the same id, new values: read its steps and slice again
      } else {
        await this._model.setMethod(scratch.id);
      }
      await painted();
      this._lastMs = performance.now() - started;
      const resident = frame.header.resident;
      const memory = resident
        ? ` Server memory: ${formatCount(Math.round(resident.resident_bytes / 1048576))} of ${formatCount(Math.round(resident.budget_bytes / 1048576))} MB of fields.`
        : '';
      this._say(
        `${scratchLabel(scratch)}: ${formatCount(scratch.simIds.length)} runs × ${formatCount(scratch.steps.length)} steps in ` +
          `${(this._lastMs / 1000).toFixed(2)} s (server ${scratch.seconds.toFixed(2)} s), not saved.${memory}`
      );
      this.node.dataset.ms = String(Math.round(this._lastMs));
      return scratch;
    } catch (error) {
      if (ticket === this._ticket) {
        this._say(`Not shown: ${(error as Error).message}`, true);
      }
      return null;
    }
  }

  /**
   * The field view's "Use as ground truth": `simId` with the current method's norm and steps
   * (L2 and matched steps when there is none).
   */
  useAsGroundTruth(simId: string): Promise<IScratch | null> {
    const m = this._model.method;
    return this.compute({
      ground_truth: simId,
      norm: m?.norm ?? 'L2',
      gt_time: m ? m.gtTime : null,
      match_time: m?.matchTime ?? 'index',
      field: m?.field ?? 'density'
    });
  }

  /**
   * Store the scratch as a method (POST /methods with the same request, a job with progress);
   * once the file has it, the explorer turns to it and the scratch is dropped.
   */
  async keep(): Promise<void> {
    const scratch = this._scratch;
    const path = this._options.path();
    if (!scratch || !path || this._job) {
      return;
    }
    const body: INewMethod = {
      ground_truth: scratch.groundTruth,
      norm: scratch.norm,
      gt_time: scratch.gtTime,
      match_time: scratch.matchTime,
      geometry: null,
      field: scratch.field,
      description: `Kept from ${scratchLabel(scratch)}, computed on the fly in the DSI Explorer`
    };
    let job: IJob;
    try {
      job = await startMethod(path, body);
      while (job.state === 'queued' || job.state === 'running') {
        this._job = job;
        this._options.onJob(job);
        this._render();
        await new Promise(resolve => setTimeout(resolve, 300));
        job = await fetchJob(job.id);
      }
    } catch (error) {
      this._endJob();
      this._say(`Not kept: ${(error as Error).message}`, true);
      return;
    }
    this._endJob();
    const methodId = job.result?.method_id;
    if (job.state !== 'done' || !methodId) {
      this._say(job.state === 'cancelled' ? 'Keep cancelled: nothing was written.' : `Not kept: ${job.message}`, job.state !== 'cancelled');
      return;
    }
    await this._options.refresh();
    if (!this._model.methods.some(m => m.id === methodId)) {
      this._say(`Kept as method ${methodId.slice(0, 8)}; Reload to show it.`);
      return;
    }
    if (this._scratch === scratch) {
      await this._model.setMethod(methodId);
      await this._drop();
    }
    this._say(`Kept as method ${methodId.slice(0, 8)} (${formatCount(job.total)} simulations post-processed in ${job.elapsed.toFixed(1)} s).`);
  }

  /** Back to the method shown before the scratch; the scratch leaves the replica. */
  async discard(): Promise<void> {
    if (!this._scratch || this._job) {
      return;
    }
    this._ticket++;
    const back = this._model.methods.find(m => m.id === this._before && !isScratch(m)) ?? this._model.methods.find(m => !isScratch(m));
    if (back) {
      await this._model.setMethod(back.id);
    }
    await this._drop();
    this._say('');
  }

  dispose(): void {
    this._ticket++;
    // Only a computation on the fly goes with the explorer; a Keep the user asked for runs on
    // (the file gets its method), and the status bar stops showing this explorer's job.
    if (this._job?.kind === 'distances') {
      void this._cancelJob();
    }
    this._endJob();
  }

  /** A superseded request's job: the status bar stops showing it (a newer one shows its own). */
  private _endJobOf(job: IJob): void {
    if (this._job?.id === job.id) {
      this._endJob();
    }
  }

  private async _drop(): Promise<void> {
    this._scratch = null;
    const summary = await this._options.inject(null);
    this._model.setMethods(summary.methods);
    this._render();
    await painted(); // the picker lists the methods without it
  }

  private async _cancelJob(): Promise<void> {
    const job = this._job;
    if (!job) {
      return;
    }
    this._cancel.disabled = true;
    try {
      await cancelJob(job.id);
    } catch (error) {
      this._say(`Cannot cancel: ${(error as Error).message}`, true);
    }
  }

  private _endJob(): void {
    if (this._job) {
      this._job = null;
      this._options.onJob(null);
    }
    this._render();
  }

  private _say(text: string, error = false): void {
    this._message.textContent = text;
    this._message.className = error ? 'jp-DSI-error' : 'jp-DSI-hint';
    this._render();
  }

  private _render(): void {
    const job = this._job;
    this._progress.hidden = !job;
    this._cancel.hidden = !job;
    this._cancel.disabled = false;
    this._cancel.textContent = job?.kind === 'postprocess' ? 'Cancel keep' : 'Cancel';
    this._keep.hidden = this._discard.hidden = !this._scratch || !!job;
    if (job) {
      this._progress.max = Math.max(1, job.total);
      this._progress.value = job.done;
      const what = job.kind === 'postprocess' ? 'Keeping: post-processing' : 'Computing on the fly:';
      this._message.className = 'jp-DSI-hint';
      this._message.textContent =
        job.state === 'queued'
          ? `${what} queued behind the server’s other jobs…`
          : `${what} ${formatCount(job.done)} of ${formatCount(job.total)} simulations · ${job.elapsed.toFixed(1)} s`;
    }
    this.node.hidden = !this._scratch && !job && !this._message.textContent;
  }

  private readonly _message = h('span', { class: 'jp-DSI-hint' });
  private readonly _progress = h('progress', { class: 'jp-DSI-progress', 'aria-label': 'Progress of the distances on the fly' });
  private readonly _cancel = h('button', {}, 'Cancel');
  private readonly _keep = h('button', {}, 'Keep');
  private readonly _discard = h('button', {}, 'Discard');
  private _scratch: IScratch | null = null;
  private _before: string | null = null;
  private _job: IJob | null = null;
  private _ticket = 0;
  private _lastMs = NaN;
}
