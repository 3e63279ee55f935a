/**
 * Test fixtures: frames as jupyterlab_dsi/frame_codec.py writes them, and the sample database the
 * scratch-method suites inject into (built by `make sample`; `make test-js` builds it first).
 */
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The 1,000-run sample's bytes. */
export function sampleBytes(): Buffer {
  return fs.readFileSync(path.join(ROOT, 'examples', 'data', 'sample.sqlite'));
}

/** uint32 header length, the JSON header, space padding to 4 bytes, then the float32 values. */
export function encodeFrame(header: Record<string, unknown>, shape: number[], values: Float32Array): ArrayBuffer {
  const text = new TextEncoder().encode(JSON.stringify({ ...header, shape, dtype: 'float32' }));
  const start = 4 + text.length + ((4 - ((4 + text.length) % 4)) % 4);
  const buffer = new ArrayBuffer(start + values.byteLength);
  new DataView(buffer).setUint32(0, text.length, true);
  new Uint8Array(buffer, 4, text.length).set(text);
  new Uint8Array(buffer, 4 + text.length, start - 4 - text.length).fill(32);
  new Float32Array(buffer, start).set(values);
  return buffer;
}
