/**
 * The linked views: controls on top, parallel coordinates and the scatter (with its x and y
 * choices) below, the columns that are the same for every run in one quiet line, and the
 * selection's filter string at the bottom. Model changes are coalesced into one redraw per
 * animation frame, so a brush move or a time step paints once, whatever changed.
 */
import type { ExplorerModel, Change, ISelectionChange } from '../model/explorer';
import { FilterError } from '../filter';
import { FEATURE, featureFormula } from '../model/feature';
import { formatValue, ParallelCoordinates } from '../views/parcoords';
import { Scatter } from '../views/scatter';
import { IProposalOverlay, scatterMarks } from '../views/proposalOverlay';
import type { IDatasetRecord, IJob } from '../server';
import { MethodForm, ScratchMethods } from './methodForm';
import { ExplorerControls, methodLabel } from './controls';
import { asideText } from './aside';
import { formatCount, h } from './dom';
import { SaveForm } from './saveForm';
import { ExportBar } from './exportBar';
import { FieldView } from './fieldView';

/** Parameters listed in the scatter's tooltip at most (a table of runs may have dozens). */
const MAX_TOOLTIP_PARAMETERS = 12;

export interface IExplorerViewOptions {
  /** The open database's path (relative to the server root). */
  path: () => string | null;
  /** A dataset was saved: the panel refreshes its replica. */
  onSaved: (record: IDatasetRecord) => void;
  /** A new method's job moved on (null: it is over). */
  onJob: (job: IJob | null) => void;
  /** A new method is in the file: catch up and show it. */
  onMethodCreated: (methodId: string) => Promise<void>;
  /** The explorer's scratch method (computed on the fly): the form's default action, its bar under the controls. */
  scratch?: ScratchMethods;
  /** The field view's "Use as ground truth" (absent: no button). */
  useAsGroundTruth?: (simId: string) => void;
}

/** A scatter axis's title: d_feature's formula, or the column with its unit. */
function axisTitle(model: ExplorerModel, name: string): string {
  if (name === FEATURE) {
    return featureFormula(model.feature);
  }
  const unit = model.column(name)?.unit;
  return unit ? `${name} (${unit})` : name;
}

export class ExplorerView {
  readonly node: HTMLElement;

  constructor(
    private readonly _model: ExplorerModel,
    options: IExplorerViewOptions
  ) {
    const model = _model;
    this._saveForm = new SaveForm(model, options.path, options.onSaved);
    this._methodForm = new MethodForm(model, { path: options.path, onJob: options.onJob, onCreated: options.onMethodCreated, scratch: options.scratch });
    this._controls = new ExplorerControls(model, () =>
      this._methodForm.isOpen ? this._methodForm.close() : this._methodForm.open()
    );
    if (options.scratch) {
      // Right after the method field: under the picker in the sidebar's one column; in the main
      // area's dense grid the row's other controls fill in beside the picker and it spans the next row.
      this._controls.node.insertBefore(options.scratch.node, this._controls.node.children[1] ?? null);
    }
    // The axes keep a readable spacing: a narrow panel (the sidebar) scrolls them sideways.
    const parcoordsHost = h('div', { class: 'jp-DSI-parcoordsCanvas' });
    this._parcoordsHost = parcoordsHost;
    const parcoordsScroller = h('div', { class: 'jp-DSI-parcoords', 'data-testid': 'dsi-parcoords' }, parcoordsHost);
    const scatterHost = h('div', { class: 'jp-DSI-scatter', 'data-testid': 'dsi-scatter' });
    for (const [select, axis] of [
      [this._scatterX, 'x'],
      [this._scatterY, 'y']
    ] as const) {
      select.className = 'jp-DSI-select jp-mod-styled';
      select.setAttribute('aria-label', `Scatter ${axis}`);
      select.title = `The scatter's ${axis} axis. Changing an axis clears the boxes and lassos drawn over the old ones.`;
      select.addEventListener('change', () => model.setScatterAxes(this._scatterX.value, this._scatterY.value));
    }
    const scatterHeader = h(
      'div',
      { class: 'jp-DSI-scatterHeader' },
      h('span', { class: 'jp-DSI-fieldLabel' }, 'Scatter'),
      h('label', { class: 'jp-DSI-axisChoice' }, 'y', this._scatterY),
      h('span', { class: 'jp-DSI-hint' }, 'against'),
      h('label', { class: 'jp-DSI-axisChoice' }, 'x', this._scatterX)
    );
    // Linked hover: the run under the pointer in one view is marked in the other, and the
    // scatter's tooltip lists the run's parameters (the lines' tooltip lists every axis).
    this._parcoords = new ParallelCoordinates(parcoordsHost, {
      onBrush: (axis, brush, final) => model.setBrush(axis, brush, final),
      onAxesChange: (axes, inverted) => model.setAxes(axes, inverted),
      onHover: row => this._scatter.highlight(row),
      onPick: row => this._openField(row)
    });
    this._scatter = new Scatter(scatterHost, {
      onHover: row => this._parcoords.highlight(row),
      describe: row =>
        (model.table?.columns ?? [])
          .filter(c => !c.name.startsWith('d_'))
          .slice(0, MAX_TOOLTIP_PARAMETERS)
          .map(c => `${c.name}: ${formatValue(c, row)}`),
      onShapes: (shapes, final) => {
        model.setShapes(shapes, final);
        if (final) {
          // The model says a box as two ranges and a lasso with a few vertices: draw what it says.
          this._scatter.setShapes([...model.shapes]);
        }
      },
      onPick: row => {
        const id = model.table?.ids[row];
        if (id !== undefined) {
          this._methodForm.pick(id);
        }
        this._openField(row);
      }
    });

    this._filterText.className = 'jp-DSI-filterText';
    this._filterText.setAttribute('data-testid', 'dsi-filter');
    this._filterText.setAttribute(
      'title',
      'The selection in the filter language: `jupyter dsi select --where` and `%dsi select --where` accept it. Type to change it: Enter applies, Escape goes back.'
    );
    // Typed as plain text (never markup); Enter applies it through the same parser as the kernel's.
    // Browsers without 'plaintext-only' (Firefox before 136) throw on it; the text is read through
    // textContent either way, so pasted markup never becomes markup.
    try {
      this._filterText.contentEditable = 'plaintext-only';
    } catch {
      this._filterText.contentEditable = 'true';
    }
    this._filterText.spellcheck = false;
    this._filterText.setAttribute('role', 'textbox');
    this._filterText.setAttribute('aria-label', 'Filter string');
    this._filterText.addEventListener('focus', () => {
      if (!model.filter) {
        this._filterText.textContent = ''; // the placeholder is not a filter
      }
    });
    this._filterText.addEventListener('input', () => (this._editing = true));
    this._filterText.addEventListener('keydown', event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        this._applyFilter();
      } else if (event.key === 'Escape') {
        event.preventDefault();
        this._filterText.blur();
      }
    });
    // Leaving the field drops what was not applied: the field never shows a string that is not the selection.
    this._filterText.addEventListener('blur', () => this._cancelEdit());
    this._filterError.className = 'jp-DSI-filterError';
    this._filterError.setAttribute('role', 'alert');
    this._filterError.setAttribute('data-testid', 'dsi-filter-error');
    this._filterError.hidden = true;

    this._undoButton.className = this._redoButton.className = 'jp-DSI-button jp-mod-styled';
    this._undoButton.textContent = 'Undo';
    this._redoButton.textContent = 'Redo';
    this._undoButton.setAttribute('data-testid', 'dsi-undo');
    this._redoButton.setAttribute('data-testid', 'dsi-redo');
    this._undoButton.addEventListener('click', () => void model.undo());
    this._redoButton.addEventListener('click', () => void model.redo());
    this._notice.className = 'jp-DSI-notice';
    this._notice.setAttribute('role', 'status');
    this._notice.setAttribute('aria-live', 'polite');
    this._notice.setAttribute('data-testid', 'dsi-selection-notice');
    this._notice.hidden = true;
    const copy = h('button', { class: 'jp-DSI-button jp-mod-styled', title: 'Copy the filter string' }, 'Copy');
    copy.addEventListener('click', () => void this._copy(copy));
    const clear = h('button', { class: 'jp-DSI-button jp-mod-styled', title: 'Clear every brush, box and lasso' }, 'Clear');
    clear.addEventListener('click', () => {
      model.clearSelection();
      this._parcoords.setBrushes(new Map());
      this._scatter.setShapes([]);
    });

    this._save.className = 'jp-DSI-button jp-mod-styled jp-mod-accept';
    this._save.textContent = 'Save…';
    this._save.title = 'Save the selection as a training dataset';
    this._save.addEventListener('click', () => (this._saveForm.isOpen ? this._saveForm.close() : this._saveForm.open()));

    // The run behind a point: beside the views in the main area, below them in the sidebar.
    this._field = new FieldView({
      path: options.path,
      context: () => {
        const m = model.method;
        return {
          t: model.t,
          method: m ? { groundTruth: m.groundTruth, gtTime: m.gtTime, matchTime: m.matchTime, field: m.field } : null
        };
      },
      useAsGroundTruth: options.useAsGroundTruth,
      onClose: () => this.node.classList.remove('jp-mod-field')
    });
    this._export = new ExportBar(model, () => [parcoordsScroller, scatterHost], options.path);
    this.node = h(
      'div',
      { class: 'jp-DSI-explorerView' },
      this._controls.node,
      this._methodForm.node,
      parcoordsScroller,
      this._aside,
      scatterHeader,
      scatterHost,
      this._field.node,
      this._export.node,
      this._export.table,
      this._notice,
      h(
        'div',
        { class: 'jp-DSI-filterBar' },
        h('span', { class: 'jp-DSI-fieldLabel' }, 'Filter'),
        this._filterText,
        copy,
        clear,
        this._undoButton,
        this._redoButton,
        this._save
      ),
      this._filterError,
      this._undrawn,
      this._saveForm.node
    );
    model.changed.connect(this._onChange, this);
    // JupyterLab marks <body> once a new theme's variables apply: repaint the lines with them
    // now, not at the next brush move (the unselected lines' color comes from the theme).
    this._themeObserver = new MutationObserver(() => model.refreshColors());
    this._themeObserver.observe(document.body, { attributes: true, attributeFilter: ['data-jp-theme-name', 'data-jp-theme-light'] });
    this._schedule('data');
    this._schedule('axes');
  }

  /**
   * Draw a proposal over both views (null: none): dashed lines in the parallel coordinates,
   * hollow circles in the scatter while both of its axes are parameters. It stays through
   * redraws (data, axes, size, theme) until replaced.
   */
  setProposal(overlay: IProposalOverlay | null): void {
    this._proposal = overlay;
    this._parcoords.setProposals(overlay);
    this._placeScatterProposal();
  }

  /** The scatter's marks for its current axes. */
  private _placeScatterProposal(): void {
    const [x, y] = this._model.scatterAxes;
    this._scatter.setProposals(scatterMarks(this._proposal, x, y), this._proposal?.label ?? '');
  }

  /** Re-measure both views (the panel was resized or shown). */
  resize(): void {
    this._parcoords.resize();
    this._scatter.resize();
    this._field.resize();
  }

  /** Open (or move) the field view to the run at `row`. */
  private _openField(row: number): void {
    const id = this._model.table?.ids[row];
    if (id === undefined) {
      return;
    }
    const opening = !this.node.classList.contains('jp-mod-field');
    this.node.classList.add('jp-mod-field');
    void this._field.open(id);
    if (opening) {
      // The views get narrower beside it (the main area): measure them again.
      requestAnimationFrame(() => this.resize());
    }
  }

  dispose(): void {
    this._model.changed.disconnect(this._onChange, this);
    this._themeObserver.disconnect();
    cancelAnimationFrame(this._frame);
    this._controls.dispose();
    this._methodForm.dispose();
    this._parcoords.destroy();
    this._scatter.destroy();
    this._field.dispose();
  }

  private _onChange(_: ExplorerModel, change: Change): void {
    this._schedule(change);
  }

  private _schedule(change: Change): void {
    this._dirty.add(change);
    if (!this._frame) {
      this._frame = requestAnimationFrame(() => this._render());
    }
  }

  private _render(): void {
    this._frame = 0;
    const dirty = this._dirty;
    this._dirty = new Set();
    const model = this._model;
    const table = model.table;
    if (!table) {
      return;
    }
    if (dirty.has('data') || dirty.has('axes') || dirty.has('method')) {
      // The stylesheet turns the count into a width: a readable spacing, tighter in the sidebar.
      this._parcoordsHost.style.setProperty('--jp-DSI-axis-count', String(model.axes.length));
      this._parcoords.setData(table, [...model.axes], [...model.inverted]);
      this._parcoords.setBrushes(new Map(model.brushes));
      const [xName, yName] = model.scatterAxes;
      const missing = () => new Float32Array(table.rows).fill(NaN);
      this._scatter.setData(model.scatterValues(xName) ?? missing(), model.scatterValues(yName) ?? missing(), table.ids, {
        x: axisTitle(model, xName),
        y: axisTitle(model, yName)
      });
      this._scatter.setShapes([...model.shapes]);
      if (this._proposal) {
        this._placeScatterProposal(); // other axes may be parameters or not
      }
      this._updateScatterChoices();
    }
    const coloring = model.coloring;
    if (coloring) {
      this._parcoords.setSelection(model.selected, coloring.colors);
      this._scatter.setVisible(model.brushed);
      this._scatter.setSelection(model.selected, coloring.colors);
    }
    if (dirty.has('data') || dirty.has('method')) {
      void this._field.update(); // a step or a method: the field view follows (a no-op when closed)
    }
    // Paint the scatter in this frame too, not in one of its own: one brush move, one frame.
    this._scatter.flush();
    this._controls.update();
    // What the user is typing stays until Enter or Escape; the model's string shows otherwise.
    if (!this._editing) {
      const focused = document.activeElement === this._filterText;
      const text = model.filter || (focused ? '' : '(everything: no brush, box or lasso)');
      if (this._filterText.textContent !== text) {
        this._filterText.textContent = text; // only when it changed: a caret in the field stays put
      }
      this._filterText.classList.toggle('jp-mod-empty', !model.filter);
    }
    this._renderHistory();
    const aside = asideText(model.aside);
    this._aside.textContent = aside.text;
    this._aside.title = aside.full;
    this._aside.hidden = !aside.text;
    const undrawn = model.expression;
    this._undrawn.textContent = undrawn ? `From the notebook, not drawn as brushes or shapes: ${undrawn}` : '';
    this._undrawn.hidden = !undrawn;
    this._save.disabled = model.count === 0;
    this._export.update();
    if (this._saveForm.isOpen) {
      this._saveForm.updatePreview();
    }
  }

  private _cancelEdit(): void {
    this._editing = false;
    this._filterError.textContent = '';
    this._filterError.hidden = true;
    this._filterText.removeAttribute('aria-invalid');
    this._schedule('selection');
  }

  /** Apply the typed filter string; a parse or name error shows beneath it, the selection stays. */
  private _applyFilter(): void {
    const text = (this._filterText.textContent ?? '').trim();
    try {
      this._model.setFilter(text);
    } catch (error) {
      const message = error instanceof FilterError || error instanceof Error ? error.message : String(error);
      this._filterError.textContent = message.split('\n')[0];
      this._filterError.hidden = false;
      this._filterText.setAttribute('aria-invalid', 'true');
      return;
    }
    this._cancelEdit();
  }

  /** The undo and redo buttons, and the notice of a selection moved by a method or step change. */
  private _renderHistory(): void {
    const model = this._model;
    const undo = model.undoable;
    const redo = model.redoable;
    this._undoButton.disabled = !undo;
    this._redoButton.disabled = !redo;
    this._undoButton.title = undo ? `Undo ${this._describe(undo)} (Ctrl+Z)` : 'Nothing to undo';
    this._redoButton.title = redo ? `Redo ${this._describe(redo)} (Ctrl+Shift+Z)` : 'Nothing to redo';
    const notice = model.notice;
    if (!notice) {
      this._notice.replaceChildren();
      this._notice.hidden = true;
      return;
    }
    const undoNotice = h('button', { class: 'jp-DSI-linkButton', type: 'button', 'data-testid': 'dsi-notice-undo' }, 'Undo');
    undoNotice.addEventListener('click', () => void model.undo());
    const dismiss = h('button', { class: 'jp-DSI-linkButton', type: 'button', title: 'Keep the new selection', 'aria-label': 'Dismiss' }, '×');
    dismiss.addEventListener('click', () => model.dismissNotice());
    this._notice.replaceChildren(
      `Selection ${formatCount(notice.from)} → ${formatCount(notice.to)} after ${this._describe(notice)} · `,
      undoNotice,
      ' ',
      dismiss
    );
    this._notice.hidden = false;
  }

  /** A selection change in words: "switching to 1 · L1 · matched", "moving to step 12". */
  private _describe(change: ISelectionChange): string {
    switch (change.kind) {
      case 'method': {
        const method = this._model.methods.find(m => m.id === change.methodId);
        return `switching to ${method ? methodLabel(method) : 'another method'}`;
      }
      case 'step':
        return `moving to step ${change.t}`;
      case 'feature':
        return "changing d_feature's terms";
      case 'scatter':
        return "changing the scatter's axes (which clears its boxes and lassos)";
      case 'brush':
        return 'the brush';
      case 'shapes':
        return 'the box or lasso';
      case 'clear':
        return 'Clear';
      case 'filter':
        return 'the filter';
      case 'members':
        return 'the highlight';
      case 'restore':
        return 'the restore';
    }
  }

  /** The x and y choices: every plottable column (rebuilt only when those change). */
  private _updateScatterChoices(): void {
    const model = this._model;
    const names = model.scatterColumns;
    if (names.join('\u0000') !== this._scatterNames) {
      this._scatterNames = names.join('\u0000');
      for (const select of [this._scatterX, this._scatterY]) {
        select.replaceChildren(...names.map(n => h('option', { value: n }, n)));
      }
    }
    const [x, y] = model.scatterAxes;
    this._scatterX.value = x;
    this._scatterY.value = y;
    this._scatterX.disabled = this._scatterY.disabled = names.length === 0;
  }

  private async _copy(button: HTMLButtonElement): Promise<void> {
    const text = this._model.filter;
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      // No clipboard permission (e.g. plain http): select the text so Ctrl+C works.
      const range = document.createRange();
      range.selectNodeContents(this._filterText);
      const selection = window.getSelection();
      selection?.removeAllRanges();
      selection?.addRange(range);
      button.textContent = 'Press Ctrl+C';
    }
    window.setTimeout(() => (button.textContent = 'Copy'), 1500);
  }

  private readonly _themeObserver: MutationObserver;
  private readonly _export: ExportBar;
  private readonly _controls: ExplorerControls;
  private readonly _parcoords: ParallelCoordinates;
  private _proposal: IProposalOverlay | null = null;
  private readonly _parcoordsHost: HTMLElement;
  private readonly _scatter: Scatter;
  private readonly _field: FieldView;
  private readonly _filterText = document.createElement('code');
  private readonly _filterError = document.createElement('div');
  private readonly _undoButton = document.createElement('button');
  private readonly _redoButton = document.createElement('button');
  private readonly _notice = document.createElement('div');
  /** The user typed into the filter and has not applied it yet. */
  private _editing = false;
  private readonly _save = document.createElement('button');
  private readonly _scatterX = document.createElement('select');
  private readonly _scatterY = document.createElement('select');
  private _scatterNames: string | null = null;
  private readonly _aside = h('p', { class: 'jp-DSI-hint jp-DSI-aside', 'data-testid': 'dsi-constants', hidden: '' });
  private readonly _undrawn = h('p', { class: 'jp-DSI-hint jp-DSI-undrawn', 'data-testid': 'dsi-undrawn' });
  private readonly _saveForm: SaveForm;
  private readonly _methodForm: MethodForm;
  private _dirty = new Set<Change>();
  private _frame = 0;
}
