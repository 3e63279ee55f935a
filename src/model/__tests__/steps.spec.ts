/**
 * One step number everywhere (docs/data-model.md, "Steps and times"): the panel's label and the
 * datasets table show the stored 0-based step that `t`, `--time` and the exports use, with the
 * simulated time beside it, never as `t`.
 */
import { formatSimulatedTime, simulatedTime, stepLabel, stepText } from '../steps';

// The sample's times: step i was written at (i + 1) µs, so an off-by-one shows.
const times = Array.from({ length: 40 }, (_, i) => i + 1);

describe('steps', () => {
  it('labels the last step by its stored index with its simulated time', () => {
    expect(stepLabel(39, 40, times)).toBe('step 39 (0–39) · time 40');
    expect(stepLabel(0, 40, times)).toBe('step 0 (0–39) · time 1');
  });

  it('leaves the time out where the source recorded none', () => {
    expect(stepLabel(2, 3, [])).toBe('step 2 (0–2)');
    expect(stepLabel(0, 0, [])).toBe('no steps');
    expect(simulatedTime(1, [0.5, Number.NaN])).toBeNull();
  });

  it('writes a table cell with the same number as the label', () => {
    expect(stepText(24, times)).toBe('24 · time 25');
    expect(stepText(24, [])).toBe('24');
    expect(stepText(null, times)).toBe('—');
  });

  it('reads times without float noise', () => {
    expect(formatSimulatedTime(0.1 + 0.2)).toBe('0.3');
    expect(formatSimulatedTime(1.2345678e-7)).toBe('1.235e-7');
  });
});
