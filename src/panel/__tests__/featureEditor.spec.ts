/**
 * The panel's pieces of issue 9, as a keyboard or screen-reader user meets them: d_feature's
 * terms (a labelled weight per term, "+ term", × to remove), and the line of columns that are
 * the same for every run.
 */
import { ExplorerModel } from '../../model/explorer';
import { asideText } from '../aside';
import { FeatureEditor } from '../featureEditor';
import { clover, method } from '../../../tests/js/ensembles';

const theme = () => ({ context: '#ccc', missing: '#999' });

async function editor(): Promise<{ model: ExplorerModel; node: HTMLElement; update: () => void }> {
  const model = new ExplorerModel(clover(), theme);
  await model.load([method('m1')]);
  const e = new FeatureEditor(model);
  document.body.replaceChildren(e.node);
  model.changed.connect(() => e.update());
  return { model, node: e.node, update: () => e.update() };
}

const byLabel = <T extends HTMLElement>(node: HTMLElement, label: string) =>
  node.querySelector<T>(`[aria-label="${label}"]`);

describe("d_feature's terms", () => {
  it('show one labelled weight per term, and the last term cannot be removed', async () => {
    const { node } = await editor();
    const box = byLabel<HTMLInputElement>(node, 'd_density weight value')!;
    expect(box.value).toBe('1');
    expect(byLabel(node, 'd_density weight')).not.toBeNull();
    const remove = byLabel<HTMLButtonElement>(node, 'Remove d_density from d_feature')!;
    expect(remove.tagName).toBe('BUTTON');
    expect(remove.disabled).toBe(true);
    expect(node.title).toBe('d_feature = 1 · d_density');
  });

  it('add a numeric column with "+ term", take typed weights, and remove a term', async () => {
    const { model, node } = await editor();
    const add = byLabel<HTMLSelectElement>(node, 'Add a term to d_feature')!;
    const options = Array.from(add.options).map(o => o.value);
    expect(options).toEqual(['', 'end_step', 'wall_clock']); // not d_density (in it), not d_feature
    add.value = 'wall_clock';
    add.dispatchEvent(new Event('change'));
    expect(model.feature).toEqual({ d_density: 1, wall_clock: 1 });

    const box = byLabel<HTMLInputElement>(node, 'wall_clock weight value')!;
    box.value = '0.5';
    box.dispatchEvent(new Event('change'));
    expect(model.feature).toEqual({ d_density: 1, wall_clock: 0.5 });
    box.value = 'abc';
    box.dispatchEvent(new Event('change'));
    expect(model.feature).toEqual({ d_density: 1, wall_clock: 0.5 });
    expect(box.value).toBe('0.5');

    const remove = byLabel<HTMLButtonElement>(node, 'Remove d_density from d_feature')!;
    expect(remove.disabled).toBe(false);
    remove.click();
    expect(model.feature).toEqual({ wall_clock: 0.5 });
    expect(byLabel(node, 'd_density weight value')).toBeNull();
    expect(node.title).toBe('d_feature = 0.5 · wall_clock');
  });
});

describe('the columns kept aside', () => {
  it('read as one line, cut at a comma with the whole list in the title', () => {
    const aside = [
      { name: 'x_cells', value: '60' },
      { name: 'xmin', value: '0' }
    ];
    expect(asideText(aside)).toEqual({
      text: 'Same for every run: x_cells = 60, xmin = 0',
      full: 'Same for every run: x_cells = 60, xmin = 0'
    });
    const many = Array.from({ length: 30 }, (_, i) => ({ name: `deck_value_${i}`, value: String(i) }));
    const { text, full } = asideText(many);
    expect(text.length).toBeLessThan(200);
    expect(text.endsWith(', … (30 columns)')).toBe(true);
    expect(full).toContain('deck_value_29 = 29');
    expect(asideText([])).toEqual({ text: '', full: '' });
  });
});
