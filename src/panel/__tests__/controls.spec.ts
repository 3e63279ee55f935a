/**
 * The explorer's header in a brush drag: it is updated in every frame of the views, and writes
 * only what changed (the legend's elements, the texts), so that a brush move does not make the
 * browser restyle and lay out the whole header; what it shows stays the model's.
 */
import { ExplorerModel } from '../../model/explorer';
import { ExplorerControls } from '../controls';
import { clover, method } from '../../../tests/js/ensembles';

const theme = () => ({ context: '#ccc', missing: '#999' });

async function controls(): Promise<{ model: ExplorerModel; c: ExplorerControls }> {
  const model = new ExplorerModel(clover(), theme);
  await model.load([method('m1')]);
  const c = new ExplorerControls(model, () => undefined);
  document.body.replaceChildren(c.node);
  model.changed.connect(() => c.update());
  return { model, c };
}

const count = (c: ExplorerControls) => c.node.querySelector('[data-testid="dsi-selection-count"]')!;
const legend = (c: ExplorerControls) => c.node.querySelector('.jp-DSI-legend')!;

describe('ExplorerControls in a brush drag', () => {
  it('keeps the legend, time label and count elements while a brush moves, and shows the new count', async () => {
    const { model, c } = await controls();
    expect(count(c).textContent).toBe('8 of 8 simulations selected');
    expect(count(c).querySelector('strong')!.textContent).toBe('8');
    const items = Array.from(legend(c).children);
    expect(items.length).toBeGreaterThan(0);
    const strong = count(c).querySelector('strong');
    const label = c.node.querySelector('[data-testid="dsi-time"]')!;
    const labelText = label.firstChild;
    const before = label.textContent;

    model.setBrush('end_step', { kind: 'numeric', ranges: [{ lo: 103, hi: 110 }] });
    c.update();
    expect(count(c).textContent).toBe('5 of 8 simulations selected');
    expect(count(c).querySelector('strong')).toBe(strong); // changed in place
    expect(Array.from(legend(c).children)).toEqual(items); // the same elements: not rebuilt
    expect(label.firstChild).toBe(labelText);
    expect(label.textContent).toBe(before);

    model.setBrush('end_step', null);
    c.update();
    expect(count(c).textContent).toBe('8 of 8 simulations selected');
    expect(Array.from(legend(c).children)).toEqual(items);
  });

  it('rebuilds the legend when the coloring changes, and shows the new time step', async () => {
    const { model, c } = await controls();
    const first = legend(c).textContent;
    const items = Array.from(legend(c).children);
    model.setColorBy('end_step'); // numeric: a ramp between the extremes
    c.update();
    expect(legend(c).querySelector('.jp-DSI-ramp')).not.toBeNull();
    expect(legend(c).textContent).not.toBe(first);
    expect(legend(c).children[0]).not.toBe(items[0]);
    expect(legend(c).textContent).toBe('100107');

    const label = c.node.querySelector('[data-testid="dsi-time"]')!;
    const before = label.textContent;
    expect(model.t).toBe(2);
    await model.setTime(0);
    expect(label.textContent).not.toBe(before);
    expect(label.textContent).toMatch(/^step 0/);
    expect((c.node.querySelector('[aria-label="Time step"]') as HTMLInputElement).value).toBe('0');
  });
});
