/**
 * Reading the JSON columns of the file (a dataset's settings and sampling, a split's names and
 * fractions, a run's resources and param values): one place decides what NULL and text that is
 * not JSON read as.
 */

/**
 * A stored JSON value, parsed. NULL reads as null and a number as itself (SQLite may hand a JSON
 * number back as one); text that does not parse goes to `onError` with the parser's message, and
 * what it answers stands in its place (default: null).
 */
export function parseJson(text: unknown, onError: (message: string) => unknown = () => null): unknown {
  if (text === null || text === undefined) {
    return null;
  }
  if (typeof text === 'number') {
    return text;
  }
  try {
    return JSON.parse(String(text));
  } catch (error) {
    return onError((error as Error).message);
  }
}

/** A stored JSON array; anything else (NULL, not JSON, another value) reads as []. */
export function jsonArray(text: unknown): unknown[] {
  const parsed = parseJson(text);
  return Array.isArray(parsed) ? parsed : [];
}

/** A stored JSON object; anything else (NULL, not JSON, an array, another value) reads as {}. */
export function jsonObject(text: unknown): Record<string, unknown> {
  const parsed = parseJson(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
}
