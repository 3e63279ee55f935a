/**
 * Canonical text of a filter, identical to Python's `to_string` (jupyterlab_dsi/filter.py):
 * lowercase keywords, minimal parentheses (a parenthesised group of the same kind stays a
 * group, so the tree survives the round trip), strings in single quotes with a quote doubled,
 * names bare unless they need backquotes, integers as digits and doubles as Python's `repr`.
 * `parse(toString(n))` equals `n`; null (everything) gives "".
 */
import { FilterNode, Literal, formatName, isInteger, numberValue } from './ast';

/**
 * A double as Python's `repr(float)`: the shortest digits that read back to the same double
 * (those of `toExponential()`), positional for zero and 1e-4 <= |x| < 1e16 with ".0" when there
 * is no fraction, otherwise `d[.ddd]e+XX` / `e-XX` with at least two exponent digits.
 */
export function formatDouble(x: number): string {
  if (!Number.isFinite(x)) {
    throw new RangeError(`a filter number must be finite, got ${x}`);
  }
  if (x === 0) {
    return Object.is(x, -0) ? '-0.0' : '0.0';
  }
  const sign = x < 0 ? '-' : '';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const e = Number(exp);
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const abs = Math.abs(e);
    return `${sign}${m}e${e < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  }
  if (e < 0) {
    return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  }
  if (digits.length <= e + 1) {
    return `${sign}${digits}${'0'.repeat(e + 1 - digits.length)}.0`;
  }
  return `${sign}${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
}

/** A literal as the canonical text writes it. */
export function formatLiteral(value: Literal): string {
  if (typeof value === 'string') {
    return "'" + value.split("'").join("''") + "'";
  }
  if (isInteger(value)) {
    return String(value);
  }
  return formatDouble(numberValue(value));
}

function fmt(node: FilterNode): string {
  switch (node.type) {
    case 'or':
    case 'and': {
      const isOr = node.type === 'or';
      const parts: string[] = [];
      for (const o of node.operands) {
        const s = fmt(o);
        // Parentheses only where the tree differs from what precedence would give.
        const wrap = o.type === 'or' || (!isOr && o.type === 'and');
        parts.push(wrap ? `(${s})` : s);
      }
      return parts.join(isOr ? ' or ' : ' and ');
    }
    case 'not': {
      const s = fmt(node.operand);
      const t = node.operand.type;
      return t === 'or' || t === 'and' ? `not (${s})` : `not ${s}`;
    }
    case 'compare':
      return `${formatName(node.name)} ${node.op} ${formatLiteral(node.value)}`;
    case 'in':
      return `${formatName(node.name)} in (${node.values.map(formatLiteral).join(', ')})`;
    case 'between':
      return (
        `${formatName(node.name)} between ${formatLiteral(node.low)} ` +
        `and ${formatLiteral(node.high)}`
      );
    case 'polygon': {
      const points = node.points.map(p => `(${formatLiteral(p[0])}, ${formatLiteral(p[1])})`);
      return `(${formatName(node.x)}, ${formatName(node.y)}) in polygon(${points.join(', ')})`;
    }
  }
}

/** Canonical text; "" for null (the filter that matches everything). */
export function toString(node: FilterNode | null): string {
  return node === null ? '' : fmt(node);
}
