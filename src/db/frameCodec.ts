/**
 * The server's binary answer for arrays (jupyterlab_dsi/frame_codec.py): a little-endian uint32
 * header length, a UTF-8 JSON header, zero padding to 4 bytes, then float32 data in C order.
 * The numbers are read in place as a Float32Array, without parsing text.
 */

/** What every frame's header holds; each endpoint adds its own fields. */
export interface IFrameHeader {
  shape: number[];
  dtype: 'float32';
  [key: string]: unknown;
}

export interface IFrame<H extends IFrameHeader = IFrameHeader> {
  header: H;
  data: Float32Array;
}

/** Decode a frame; throws Error(one line) when the bytes are not one. */
export function decodeFrame<H extends IFrameHeader = IFrameHeader>(buffer: ArrayBuffer): IFrame<H> {
  if (buffer.byteLength < 4) {
    throw new Error('not a frame: shorter than its 4-byte header length');
  }
  const length = new DataView(buffer).getUint32(0, true);
  const start = 4 + length + ((4 - ((4 + length) % 4)) % 4);
  if (start > buffer.byteLength) {
    throw new Error(`not a frame: a ${length}-byte header in ${buffer.byteLength} bytes`);
  }
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, length))) as H;
  const count = (header.shape ?? []).reduce((a, b) => a * b, 1);
  if (buffer.byteLength - start !== 4 * count) {
    throw new Error(`not a frame: ${buffer.byteLength - start} data bytes for shape [${header.shape}] (${4 * count} expected)`);
  }
  return { header, data: new Float32Array(buffer, start, count) };
}
