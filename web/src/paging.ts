/**
 * Keyset paging as the console walks it: the API answers a page and the cursor of the next one (`next`), never
 * an offset, so going back means remembering the cursors that led here. The stack holds them, oldest first;
 * the page shown is the one after the last (the first page when empty).
 */
export type CursorStack = readonly string[];

/** The cursor to ask for the page shown; undefined for the first page. */
export function currentCursor(stack: CursorStack): string | undefined {
  return stack[stack.length - 1];
}

export function forward(stack: CursorStack, next: string): CursorStack {
  return [...stack, next];
}

export function back(stack: CursorStack): CursorStack {
  return stack.slice(0, -1);
}

/** What a pager offers: a previous page unless on the first, a next one when the API gave its cursor. */
export function pagerView(stack: CursorStack, next: string | undefined) {
  return { page: stack.length + 1, previous: stack.length > 0, next: next !== undefined && next !== '' };
}
