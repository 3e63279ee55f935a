/**
 * A proposal drawn over the views (issue 16 §4): where its points land on each kind of axis
 * (on a level, between numeric levels, beyond an axis), which segments are drawn, and the SVG
 * the parallel coordinates (dashed lines) and the scatter (hollow circles) make of it in jsdom.
 */
import { categoricalScale, IVerticalLayout, numericScale } from '../axes';
import { dataToPixel } from '../geometry';
import { ParallelCoordinates, axisXs } from '../parcoords';
import { readTheme } from '../parcoords-svg';
import {
  IProposalOverlay,
  PROPOSAL_DASH,
  PROPOSAL_HALO,
  PROPOSAL_HOVER_WIDTH,
  PROPOSAL_WIDTH,
  axisPosition,
  describePoint,
  levelPosition,
  nearestRuns,
  overlayLabel,
  proposalOverlay,
  policyLabel,
  polylineRuns,
  runsPath,
  scatterMarks
} from '../proposalOverlay';
import { MARGIN, Scatter } from '../scatter';
import type { ITable } from '../types';

const LAYOUT: IVerticalLayout = { top: 40, bottom: 340, missingTop: 350, missingBottom: 364 };

describe('placement on an axis', () => {
  const cs = categoricalScale([0.1, 0.2, 0.4], LAYOUT);
  const material = categoricalScale(['Al', 'Cu'], LAYOUT);

  it('puts a value on a level at that level', () => {
    expect(levelPosition(cs, 0.2)).toEqual({ y: cs.center(1), clamped: false });
    expect(levelPosition(material, 'Cu')).toEqual({ y: material.center(1), clamped: false });
  });

  it('interpolates a number between numeric levels linearly between their centres', () => {
    // 0.3 is halfway from 0.2 to 0.4 (not halfway between bands 0 and 2).
    const at = levelPosition(cs, 0.3)!;
    expect(at.clamped).toBe(false);
    expect(at.y).toBeCloseTo((cs.center(1) + cs.center(2)) / 2, 6);
    expect(levelPosition(cs, 0.125)!.y).toBeCloseTo(cs.center(0) + 0.25 * (cs.center(1) - cs.center(0)), 6);
  });

  it('follows the levels by value, whatever their order on the axis, and inversion', () => {
    const shuffled = categoricalScale([0.4, 0.1, 0.2], LAYOUT, true);
    expect(levelPosition(shuffled, 0.3)!.y).toBeCloseTo((shuffled.center(2) + shuffled.center(0)) / 2, 6);
  });

  it('clamps a number beyond the levels to the end level, marked', () => {
    expect(levelPosition(cs, 0.05)).toEqual({ y: cs.center(0), clamped: true });
    expect(levelPosition(cs, 0.9)).toEqual({ y: cs.center(2), clamped: true });
  });

  it('has no place for text that is no level, nor for a number on text levels', () => {
    expect(levelPosition(material, 'Fe')).toBeNull();
    expect(levelPosition(material, 0.5)).toBeNull();
  });

  it('places numbers on a numeric axis, clamping outside its domain', () => {
    const v = numericScale([0, 10], LAYOUT);
    expect(axisPosition(v, 2.5)).toEqual({ y: v.toPixel(2.5), clamped: false });
    expect(axisPosition(v, 12)).toEqual({ y: v.toPixel(10), clamped: true });
    expect(axisPosition(v, -1)).toEqual({ y: LAYOUT.bottom, clamped: true });
    expect(axisPosition(v, 'Al')).toBeNull();
    expect(axisPosition(v, undefined)).toBeNull();
  });
});

describe('polylines', () => {
  const v = numericScale([0, 10], LAYOUT);
  const d = numericScale([0, 1], LAYOUT);
  const cs = categoricalScale([0.1, 0.2], LAYOUT);
  const axes = [
    { name: 'velocity', scale: v },
    { name: 'cs', scale: cs },
    { name: 'd_density', scale: d },
    { name: 'mass', scale: v }
  ];
  const xs = [10, 20, 30, 40];
  const params = new Set(['velocity', 'cs', 'mass']);

  it('breaks at an axis that is not a parameter: no segment touches it', () => {
    const runs = polylineRuns(axes, xs, { velocity: 5, cs: 0.15, mass: 20, d_density: 0.5 }, params);
    expect(runs.map(r => r.map(vx => vx.x))).toEqual([[10, 20], [40]]);
    expect(runs[1][0]).toEqual({ x: 40, y: v.toPixel(10), clamped: true });
    // The lone vertex after the break draws no segment.
    expect(runsPath(runs)).toBe(`M10,${v.toPixel(5)}L20,${(cs.center(0) + cs.center(1)) / 2}`);
  });

  it('finds the line under the pointer within a tolerance', () => {
    const lines = [
      polylineRuns(axes, xs, { velocity: 0, cs: 0.1, mass: 0 }, params),
      polylineRuns(axes, xs, { velocity: 10, cs: 0.2, mass: 10 }, params)
    ];
    expect(nearestRuns(lines, 15, LAYOUT.top + 2, 5)).toBe(1);
    expect(nearestRuns(lines, 15, (LAYOUT.top + LAYOUT.bottom) / 2, 5)).toBeNull();
    // A lone vertex is hit too.
    expect(nearestRuns(lines, 41, LAYOUT.bottom, 5)).toBe(0);
  });
});

describe('scatter marks, tooltips and the legend', () => {
  const overlay: IProposalOverlay = {
    label: '2 proposals',
    points: [
      { id: 'ab-00000', values: { velocity: 1.5, cs: 0.2, material: 'Al' }, simId: 's7' },
      { id: 'ab-00001', values: { velocity: 2.5, cs: 0.15, material: 'Cu' } }
    ]
  };

  it('marks points where both axes are parameters with numbers, and none otherwise', () => {
    expect(scatterMarks(overlay, 'velocity', 'cs').map(m => [m.id, m.x, m.y])).toEqual([
      ['ab-00000', 1.5, 0.2],
      ['ab-00001', 2.5, 0.15]
    ]);
    expect(scatterMarks(overlay, 'velocity', 'd_density')).toEqual([]);
    expect(scatterMarks(overlay, 'velocity', 'material')).toEqual([]); // text levels: not plotted
    expect(scatterMarks(null, 'velocity', 'cs')).toEqual([]);
  });

  it('describes a point as text: id, values, clamped axes, its simulation', () => {
    expect(describePoint(overlay.points[0], ['cs'])).toBe(
      'proposal ab-00000\nvelocity: 1.5\ncs: 0.2 (outside the axis)\nmaterial: Al\nsimulated: s7'
    );
  });

  it('says the policy in a few words', () => {
    expect(policyLabel({ alpha: 1, seed: 3 })).toBe('σ², seed 3');
    expect(policyLabel({ alpha: 0.25, entropy_column: 'H', seed: 0, target: 'yield' })).toBe('0.25·σ² of yield + 0.75·H, seed 0');
    expect(overlayLabel(1200, { seed: 1, prior_column: 'p' })).toBe('1,200 proposals (σ² × p, seed 1)');
    expect(overlayLabel(1, {})).toBe('1 proposal (σ²)');
    expect(overlayLabel(12_000, { seed: 2 })).toBe('12,000 proposals (σ², seed 2) · first 5,000 of 12,000 drawn');
  });

  it('draws the first 5,000 points of a bigger proposal (one the CLI made)', () => {
    const points = Array.from({ length: 12_000 }, (_, i) => ({ id: String(i), values: { a: i } }));
    const overlay = proposalOverlay(points, {});
    expect(overlay.points).toHaveLength(5_000);
    expect(overlay.points[4_999].id).toBe('4999');
    expect(overlay.label).toBe('12,000 proposals (σ²) · first 5,000 of 12,000 drawn');
    expect(proposalOverlay(points.slice(0, 10), {}).points).toHaveLength(10);
  });
});

describe('the views draw a proposal', () => {
  let host: HTMLDivElement;
  /** Canvas clears: a redraw of the rows' layer (jsdom has no canvas of its own). */
  let clears = 0;

  beforeEach(() => {
    host = document.createElement('div');
    document.body.appendChild(host);
    clears = 0;
    const ctx = { setTransform: () => undefined, clearRect: () => void clears++, fillRect: () => undefined };
    jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(function (this: HTMLCanvasElement) {
      // The scatter's canvas only: parcoords then skips drawing, as it does in jsdom.
      return (this.classList.contains('jp-dsi-Scatter-canvas') ? ctx : null) as unknown as CanvasRenderingContext2D;
    } as never);
  });

  afterEach(() => {
    host.remove();
    jest.restoreAllMocks();
  });

  const table: ITable = {
    rows: 3,
    ids: ['s0', 's1', 's2'],
    columns: [
      { kind: 'numeric', name: 'velocity', values: Float32Array.from([0, 5, 10]) },
      { kind: 'categorical', name: 'cs', codes: Int32Array.from([0, 1, 2]), levels: [0.1, 0.2, 0.3] },
      { kind: 'numeric', name: 'd_density', values: Float32Array.from([0, 0.5, 1]) }
    ]
  };
  const overlay: IProposalOverlay = {
    label: '2 proposals (σ², seed 3)',
    points: [
      { id: 'ab-00000', values: { velocity: 5, cs: 0.2 } },
      { id: 'ab-00001', values: { velocity: 20, cs: 0.25 } }
    ]
  };

  it('draws dashed polylines over the parameter axes in parcoords, kept across redraws, without redrawing the rows', () => {
    const pc = new ParallelCoordinates(host);
    pc.setData(table, ['velocity', 'cs', 'd_density']);
    const context = jest.spyOn(pc as unknown as { _drawContext: () => void }, '_drawContext');
    pc.setProposals(overlay);
    expect(context).not.toHaveBeenCalled();
    const paths = () => [...host.querySelectorAll('.jp-DSI-pc-proposal')];
    expect(paths().map(p => p.getAttribute('data-point'))).toEqual(['ab-00000', 'ab-00001']);
    for (const p of paths()) {
      expect(p.getAttribute('stroke-dasharray')).toBe(PROPOSAL_DASH);
      expect(p.getAttribute('fill')).toBe('none');
      // Two vertices (velocity, cs): d_density is no parameter, so no segment reaches it.
      expect(p.getAttribute('d')).toMatch(/^M[\d.]+,[\d.]+L[\d.]+,[\d.]+$/);
    }
    const [x0, x1] = axisXs(3, 640);
    const [, y1] = paths()[0].getAttribute('d')!.split('L')[1].split(',').map(Number);
    expect(paths()[0].getAttribute('d')!.startsWith(`M${Math.round(x0 * 10) / 10},`)).toBe(true);
    expect(paths()[0].getAttribute('d')!.split('L')[1].startsWith(`${Math.round(x1 * 10) / 10},`)).toBe(true);
    // 0.2 is the middle level: the middle of the axis.
    const top = Number(host.querySelector('.jp-DSI-pc-axis[data-axis="cs"] line')!.getAttribute('y1'));
    const bottom = Number(host.querySelector('.jp-DSI-pc-axis[data-axis="cs"] line')!.getAttribute('y2'));
    expect(y1).toBeCloseTo((top + bottom) / 2, 0);
    // velocity 20 lies beyond the axis (0..10): clamped to its top and marked.
    expect(host.querySelector('.jp-DSI-pc-proposalClamped')).not.toBeNull();
    expect(host.querySelector('.jp-DSI-pc-proposalLegend')!.textContent).toBe('2 proposals (σ², seed 3)');
    /**
     * Under each dashed line its halo: the same path, solid, 2 px wider, in the view's
     * background (the tick labels' halo color), and before every line in the SVG's order (drawn
     * beneath all of them, so no line is cut by another's halo). Other class: the lines still
     * count one per point.
     */
    const expectHalos = () => {
      const halos = [...host.querySelectorAll('.jp-DSI-pc-proposalHalo')];
      const lines = paths();
      expect(halos.map(h => h.getAttribute('data-point'))).toEqual(lines.map(p => p.getAttribute('data-point')));
      const background = readTheme(host.querySelector('.jp-DSI-pc')!).background;
      halos.forEach((halo, i) => {
        expect(halo.tagName).toBe('path');
        expect(halo.getAttribute('d')).toBe(lines[i].getAttribute('d'));
        expect(halo.getAttribute('stroke')).toBe(background);
        expect(halo.getAttribute('stroke-dasharray')).toBeNull();
        expect(halo.getAttribute('fill')).toBe('none');
        expect(Number(halo.getAttribute('stroke-width'))).toBe(Number(lines[i].getAttribute('stroke-width')) + PROPOSAL_HALO);
        for (const line of lines) {
          expect(halo.compareDocumentPosition(line) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
        }
      });
      expect(lines.map(p => Number(p.getAttribute('stroke-width')))).toEqual(lines.map(() => PROPOSAL_WIDTH));
    };
    expectHalos();
    // Through an axis change (a redraw), the overlay stays.
    pc.setData(table, ['cs', 'velocity']);
    expect(paths()).toHaveLength(2);
    expectHalos();
    pc.setProposals(null);
    expect(paths()).toHaveLength(0);
    expect(host.querySelectorAll('.jp-DSI-pc-proposalHalo')).toHaveLength(0);
    expect((host.querySelector('.jp-DSI-pc-proposalLegend') as HTMLElement).style.display).toBe('none');
    pc.destroy();
  });

  it('names the proposal under the pointer in the tooltip, as text', () => {
    jest.useFakeTimers();
    const pc = new ParallelCoordinates(host);
    try {
      pc.setData(table, ['velocity', 'cs']);
      pc.setProposals({ label: '1 proposal', points: [{ id: '<b>x</b>-00000', values: { velocity: 5, cs: 0.2 } }] });
      const [x0, x1] = axisXs(2, 640);
      const d = host.querySelector('.jp-DSI-pc-proposal')!.getAttribute('d')!;
      const [ya, yb] = d
        .slice(1)
        .split('L')
        .map(p => Number(p.split(',')[1]));
      host.querySelector('svg')!.dispatchEvent(new MouseEvent('pointermove', { bubbles: true, clientX: (x0 + x1) / 2, clientY: (ya + yb) / 2 }));
      jest.runOnlyPendingTimers();
      const tooltip = host.querySelector('.jp-DSI-pc-tooltip') as HTMLElement;
      expect(tooltip.style.display).toBe('block');
      expect(tooltip.textContent).toBe('proposal <b>x</b>-00000\nvelocity: 5\ncs: 0.2');
      expect(tooltip.children).toHaveLength(0);
      expect(host.querySelector('.jp-DSI-pc-proposal')!.getAttribute('stroke-width')).toBe(String(PROPOSAL_HOVER_WIDTH));
      // Its halo widens with it.
      expect(host.querySelector('.jp-DSI-pc-proposalHalo')!.getAttribute('stroke-width')).toBe(String(PROPOSAL_HOVER_WIDTH + PROPOSAL_HALO));
      host.querySelector('svg')!.dispatchEvent(new MouseEvent('pointermove', { bubbles: true, clientX: 1, clientY: 1 }));
      jest.runOnlyPendingTimers();
      expect(host.querySelector('.jp-DSI-pc-proposal')!.getAttribute('stroke-width')).toBe(String(PROPOSAL_WIDTH));
      expect(host.querySelector('.jp-DSI-pc-proposalHalo')!.getAttribute('stroke-width')).toBe(String(PROPOSAL_WIDTH + PROPOSAL_HALO));
    } finally {
      pc.destroy();
      jest.useRealTimers();
    }
  });

  it('draws hollow circles in the scatter at the points, and moves them with the zoom', () => {
    const s = new Scatter(host, {});
    const plot = host.querySelector('.jp-dsi-Scatter-plot') as HTMLElement;
    Object.defineProperty(plot, 'clientWidth', { value: 400 + MARGIN.left + MARGIN.right });
    Object.defineProperty(plot, 'clientHeight', { value: 300 + MARGIN.top + MARGIN.bottom });
    s.resize();
    s.setData(Float32Array.from([0, 5, 10]), Float32Array.from([0.1, 0.2, 0.3]), ['s0', 's1', 's2'], { x: 'velocity', y: 'cs' });
    s.flush();
    const marks = scatterMarks(overlay, 'velocity', 'cs');
    const cleared = clears;
    s.setProposals(marks, overlay.label);
    s.flush();
    expect(clears).toBe(cleared); // the points' canvas is not redrawn for the marks
    const circles = [...host.querySelectorAll<SVGCircleElement>('.jp-dsi-Scatter-proposal')];
    expect(circles).toHaveLength(2);
    const view = s.getView();
    circles.forEach((c, i) => {
      expect(c.getAttribute('fill')).toBe('none');
      expect(c.tagName).toBe('circle');
      const [px, py] = dataToPixel(view, marks[i].x, marks[i].y);
      expect(Number(c.getAttribute('cx'))).toBeCloseTo(px, 6);
      expect(Number(c.getAttribute('cy'))).toBeCloseTo(py, 6);
    });
    expect(host.querySelector('.jp-dsi-Scatter-proposalLegend')!.textContent).toBe(overlay.label);
    // Under each circle its halo: the same circle in another class (the view's stylesheet strokes
    // it 2 px wider in the background), every halo before every circle.
    const halos = () => [...host.querySelectorAll<SVGCircleElement>('circle.jp-dsi-Scatter-proposalHalo')];
    const expectHalos = () => {
      const now = [...host.querySelectorAll<SVGCircleElement>('.jp-dsi-Scatter-proposal')];
      expect(halos()).toHaveLength(now.length);
      halos().forEach((halo, i) => {
        for (const attr of ['cx', 'cy', 'r', 'data-point']) {
          expect(halo.getAttribute(attr)).toBe(now[i].getAttribute(attr));
        }
        expect(halo.getAttribute('fill')).toBe('none');
        for (const c of now) {
          expect(halo.compareDocumentPosition(c) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
        }
      });
    };
    expectHalos();
    const css = [...document.querySelectorAll('style')].map(st => st.textContent).join('\n');
    expect(css).toContain(`.jp-dsi-Scatter-proposalHalo { stroke: var(--jp-layout-color0, #ffffff); stroke-width: ${PROPOSAL_WIDTH + PROPOSAL_HALO}px; }`);
    // Zoomed in: the circles follow the view.
    const before = circles[0].getAttribute('cx');
    host.querySelector('svg')!.dispatchEvent(new WheelEvent('wheel', { bubbles: true, cancelable: true, deltaY: -100, clientX: MARGIN.left + 10, clientY: MARGIN.top + 10 }));
    s.flush();
    expect(host.querySelector('.jp-dsi-Scatter-proposal')!.getAttribute('cx')).not.toBe(before);
    expectHalos(); // the halos follow too
    s.setProposals(null);
    expect(host.querySelectorAll('.jp-dsi-Scatter-proposal')).toHaveLength(0);
    expect(halos()).toHaveLength(0);
    s.destroy();
  });
});
