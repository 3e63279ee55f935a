/**
 * Reordering the axes of the parallel coordinates by dragging an axis title, as a user does:
 * the dropped order is drawn and reported once (the panel saves it with the settings), and a
 * click on a title without a drag changes nothing.
 */
import { ParallelCoordinates } from '../parcoords';
import type { ITable } from '../types';

function table(): ITable {
  return {
    rows: 4,
    ids: ['s0', 's1', 's2', 's3'],
    columns: [
      { kind: 'numeric', name: 'd_shock', values: Float32Array.from([1, 2, 3, 4]) },
      { kind: 'categorical', name: 'profile', codes: Int32Array.from([0, 1, 0, 1]), levels: ['flat', 'ramp'] },
      { kind: 'numeric', name: 'd_edge', values: Float32Array.from([10, 20, 30, 40]) }
    ]
  };
}

describe('dragging an axis title', () => {
  let host: HTMLElement;
  beforeEach(() => {
    jest.spyOn(HTMLCanvasElement.prototype, 'getContext').mockImplementation(() => null); // jsdom: no canvas
    jest.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(600);
    jest.spyOn(HTMLElement.prototype, 'clientHeight', 'get').mockReturnValue(400);
    host = document.createElement('div');
    document.body.appendChild(host);
  });
  afterEach(() => {
    host.remove();
    jest.restoreAllMocks();
  });

  const axisNames = () => [...host.querySelectorAll('.jp-DSI-pc-axis')].map(g => g.getAttribute('data-axis'));
  const axisX = (name: string) => {
    const g = host.querySelector(`.jp-DSI-pc-axis[data-axis="${name}"]`)!;
    return Number(/translate\(([-\d.]+)/.exec(g.getAttribute('transform') ?? '')![1]);
  };
  const title = (name: string) => host.querySelector(`.jp-DSI-pc-axis[data-axis="${name}"] [data-role="title"]`)!;
  const pointer = (type: string, target: Element, x: number) =>
    target.dispatchEvent(new MouseEvent(type, { bubbles: true, clientX: x, clientY: 10, button: 0 }));

  it('moves the axis where it is dropped and reports the new order once', () => {
    const onAxesChange = jest.fn();
    const pc = new ParallelCoordinates(host, { onAxesChange });
    try {
      pc.setData(table(), ['d_shock', 'profile', 'd_edge']);
      const svg = host.querySelector('svg')!;
      const [first, last] = [axisX('d_shock'), axisX('d_edge')];
      expect(last).toBeGreaterThan(first);

      // A click on a title is not a drag: nothing moves.
      pointer('pointerdown', title('d_shock'), first);
      pointer('pointerup', svg, first);
      expect(onAxesChange).not.toHaveBeenCalled();
      expect(axisNames()).toEqual(['d_shock', 'profile', 'd_edge']);

      // Drag d_shock past d_edge, in steps as a mouse moves.
      pointer('pointerdown', title('d_shock'), first);
      for (let i = 1; i <= 6; i++) {
        pointer('pointermove', svg, first + ((last + 20 - first) * i) / 6);
      }
      expect(onAxesChange).not.toHaveBeenCalled(); // not before the drop
      pointer('pointerup', svg, last + 20);
      expect(onAxesChange).toHaveBeenCalledTimes(1);
      expect(onAxesChange).toHaveBeenLastCalledWith(['profile', 'd_edge', 'd_shock'], []);
      expect(axisNames()).toEqual(['profile', 'd_edge', 'd_shock']);
      expect(axisX('d_shock')).toBeGreaterThan(axisX('d_edge'));

      // Back to the middle: between profile and d_edge.
      const [p, e] = [axisX('profile'), axisX('d_edge')];
      pointer('pointerdown', title('d_shock'), axisX('d_shock'));
      pointer('pointermove', svg, axisX('d_shock') - 5);
      pointer('pointermove', svg, (p + e) / 2);
      pointer('pointerup', svg, (p + e) / 2);
      expect(onAxesChange).toHaveBeenLastCalledWith(['profile', 'd_shock', 'd_edge'], []);
    } finally {
      pc.destroy();
    }
  });
});
