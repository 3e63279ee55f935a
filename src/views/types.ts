/**
 * The data the views draw: typed-array columns, one row per simulation (DESIGN.md rule 7).
 * Views import nothing from JupyterLab; they take a container element and these columns,
 * defined in the leaf module table/ that the model and the filter language share.
 */

export type {
  AxisBrush,
  IColorBy,
  IRowColors,
  Column,
  ICategoricalColumn,
  INumericColumn,
  IRange,
  IShape,
  ITable,
  Point
} from '../table/types';
