/**
 * A tiny element builder. Text is only ever set through `textContent`, so names, descriptions
 * and sim ids from a database can never become markup.
 */
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') {
      el.className = value;
    } else {
      el.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.appendChild(
      child instanceof Node ? child : document.createTextNode(String(child))
    );
  }
  return el;
}

/** The children `h` would append (null, undefined and false left out), for replaceChildren. */
export function nodes(...children: Child[]): (Node | string)[] {
  return children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map(c => (c instanceof Node ? c : String(c)));
}

const integer = new Intl.NumberFormat('en-US');

/** 10000 -> "10,000". */
export function formatCount(n: number): string {
  return integer.format(n);
}

/** An ISO timestamp as the user's local date and time, to the minute. */
export function formatDate(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) {
    return iso;
  }
  return date.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit'
  });
}
