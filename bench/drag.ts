/**
 * A brush drag made of synthetic events, dispatched in the page the way the browser dispatches
 * a real drag: a pointer event then its compatibility mouse event, `down` on the brush's
 * selection rectangle, `move`s, `up` at the end. d3-brush (v1 in parcoord-es, v3 in d3 7)
 * listens to the mouse events, the jupyterlab-dsi parallel coordinates to the pointer events:
 * both run exactly the code a real drag runs.
 *
 * Dispatching in the page lets the timer start right before the event, with no CDP round trip
 * and no wait for the next input frame in the measured interval.
 */

export function mouse(
  target: EventTarget,
  type: string,
  x: number,
  y: number,
  buttons = 1
): void {
  const init = {
    bubbles: true,
    cancelable: true,
    composed: true,
    view: window,
    clientX: x,
    clientY: y,
    screenX: x,
    screenY: y,
    button: 0,
    buttons
  };
  const pointerType = type.replace('mouse', 'pointer');
  target.dispatchEvent(
    new PointerEvent(pointerType, { ...init, pointerId: 1, pointerType: 'mouse', isPrimary: true })
  );
  target.dispatchEvent(new MouseEvent(type, init));
}

/**
 * Drag a vertical brush's selection so that its centre goes to given client y positions.
 * `centerY(f)` is the client y of the fraction f (0 = the axis's min, 1 = its max) of the
 * axis's extent: the library's own scale, so every library sees the same data window.
 */
export class VerticalBrushDrag {
  /**
   * @param selection the brush's selection rectangle (where the drag starts)
   * @param centerY client y of a fraction of the axis's data extent
   * @param moveTarget where moves and the release go: the window for d3-brush (it listens
   *   there), the element holding the pointer capture for a view that captures it
   */
  constructor(
    private readonly selection: () => Element,
    private readonly centerY: (f: number) => number,
    private readonly moveTarget: () => EventTarget = () => window
  ) {}

  begin(center: number): void {
    const rect = this.selection().getBoundingClientRect();
    this._x = rect.left + rect.width / 2;
    this._y0 = rect.top + rect.height / 2;
    this._c0 = this.centerY(center);
    mouse(this.selection(), 'mousedown', this._x, this._y0);
  }

  move(center: number): void {
    const y = this._y0 + (this.centerY(center) - this._c0);
    mouse(this.moveTarget(), 'mousemove', this._x, y);
    this._last = y;
  }

  end(): void {
    mouse(this.moveTarget(), 'mouseup', this._x, this._last, 0);
  }

  private _x = 0;
  private _y0 = 0;
  private _c0 = 0;
  private _last = 0;
}
