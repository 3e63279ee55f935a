/**
 * The frame decoder against the bytes Python's encoder wrote (tests/vectors/frames.json).
 */
import * as fs from 'fs';
import * as path from 'path';

import { decodeFrame } from '../frameCodec';

interface IVector {
  header: Record<string, unknown>;
  values: (number | null)[];
  nonfinite: (string | null)[];
  base64: string;
}

const vectors: IVector[] = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../tests/vectors/frames.json'), 'utf8'));

function buffer(base64: string): ArrayBuffer {
  const bytes = Buffer.from(base64, 'base64');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

describe('decodeFrame', () => {
  it.each(vectors.map((v, i) => [i, v] as const))('reads vector %i as Python wrote it', (_, v) => {
    const frame = decodeFrame(buffer(v.base64));
    expect(frame.header).toEqual(v.header);
    expect(frame.data.length).toBe(v.values.length);
    v.values.forEach((value, i) => {
      const special = v.nonfinite[i];
      if (special === 'nan') {
        expect(Number.isNaN(frame.data[i])).toBe(true);
      } else if (special) {
        expect(frame.data[i]).toBe(special === 'inf' ? Infinity : -Infinity);
      } else {
        expect(frame.data[i]).toBe(Math.fround(value as number));
      }
    });
  });

  it('refuses bytes that are not a frame, in one line', () => {
    expect(() => decodeFrame(new ArrayBuffer(2))).toThrow('shorter than');
    const whole = buffer(vectors[0].base64);
    expect(() => decodeFrame(whole.slice(0, whole.byteLength - 4))).toThrow('data bytes for shape');
  });
});
