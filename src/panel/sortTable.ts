/**
 * The pieces of a sortable, filterable table, as the datasets table has them: a header button
 * per column that sorts by it (again to reverse, with aria-sort on the cell) and a filter box.
 */
import { h } from './dom';

/** The column a table is sorted by (`K`: its keys, where a table has a fixed set) and which way. */
export interface ISort<K extends string = string> {
  key: K;
  ascending: boolean;
}

/**
 * A header cell sorting by `key`. A first click sorts ascending, or descending for columns
 * where the largest comes first naturally (`descendingFirst`: dates, sizes).
 */
export function sortHeader<K extends string>(
  key: K,
  label: string,
  sort: ISort<K>,
  onSort: (next: ISort<K>) => void,
  descendingFirst = false
): HTMLTableCellElement {
  const sorted = sort.key === key;
  const button = h('button', { class: 'jp-DSI-sortButton', type: 'button' }, label, sorted ? (sort.ascending ? ' ▲' : ' ▼') : '');
  button.addEventListener('click', () => onSort({ key, ascending: sorted ? !sort.ascending : !descendingFirst }));
  return h('th', { scope: 'col', 'aria-sort': sorted ? (sort.ascending ? 'ascending' : 'descending') : 'none' }, button);
}

/** The filter box above a table: a search field that calls `onInput` as the user types. */
export function filterBox(placeholder: string, label: string, onInput: () => void): HTMLInputElement {
  const input = h('input', { class: 'jp-DSI-pathInput jp-mod-styled', type: 'search', placeholder, 'aria-label': label });
  input.addEventListener('input', onInput);
  return input;
}

/** Order two cell values: numbers by value, text by locale; missing values last either way. */
export function compareCells(x: string | number | null, y: string | number | null, ascending: boolean): number {
  if (x === null || y === null) {
    return x === y ? 0 : x === null ? 1 : -1;
  }
  const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
  return ascending ? order : -order;
}
