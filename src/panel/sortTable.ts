/**
 * Sortable table headers, as the datasets table has them: a button per column that sorts by it,
 * again to reverse, with aria-sort on the header cell.
 */
import { h } from './dom';

export interface ISort {
  key: string;
  ascending: boolean;
}

/**
 * A header cell sorting by `key`. A first click sorts ascending, or descending for columns
 * where the largest comes first naturally (`descendingFirst`: dates, sizes).
 */
export function sortHeader(
  key: string,
  label: string,
  sort: ISort,
  onSort: (next: ISort) => void,
  descendingFirst = false
): HTMLTableCellElement {
  const sorted = sort.key === key;
  const button = h('button', { class: 'jp-DSI-sortButton', type: 'button' }, label, sorted ? (sort.ascending ? ' ▲' : ' ▼') : '');
  button.addEventListener('click', () => onSort({ key, ascending: sorted ? !sort.ascending : !descendingFirst }));
  return h('th', { scope: 'col', 'aria-sort': sorted ? (sort.ascending ? 'ascending' : 'descending') : 'none' }, button);
}

/** Order two cell values: numbers by value, text by locale; missing values last either way. */
export function compareCells(x: string | number | null, y: string | number | null, ascending: boolean): number {
  if (x === null || y === null) {
    return x === y ? 0 : x === null ? 1 : -1;
  }
  const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
  return ascending ? order : -order;
}
