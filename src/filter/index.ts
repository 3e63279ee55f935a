/**
 * The filter language of jupyterlab-dsi in TypeScript: parser, canonical printer, evaluator and
 * typed-array masks. The Python twin is `jupyterlab_dsi/filter.py`; both are held to
 * `tests/vectors/filter.json` (src/filter/__tests__/vectors.spec.ts).
 */
export type {
  FilterErrorKind,
  FilterJSON,
  FilterNode,
  IAnd,
  IBetween,
  ICompare,
  IDouble,
  IIn,
  INot,
  IOr,
  IPolygon,
  Leaf,
  Literal,
  NumberLiteral,
  Op,
  Point
} from './ast';
export {
  FilterError,
  KEYWORDS,
  MAX_DEPTH,
  MAX_LENGTH,
  OPS,
  and,
  between,
  checkKnown,
  compare,
  compareText,
  double,
  equals,
  formatName,
  fromJSON,
  inList,
  isDouble,
  isInteger,
  leaves,
  literalValue,
  names,
  not,
  numberValue,
  or,
  polygon,
  toJSON
} from './ast';
export { parse } from './parser';
export { formatDouble, formatLiteral, toString } from './format';
export type { MaskFunction } from './evaluate';
export { SIM_ID, checkTypes, compileMask, evaluate, inPolygon, mask } from './evaluate';
