import { useState } from 'preact/hooks';
import { back, type CursorStack, currentCursor, forward, pagerView } from '../paging';

/**
 * The cursor stack of a keyset-paged list, back to the first page whenever one of `resetOn` changes (a new
 * search or another project: the old cursors mean nothing there).
 */
export function useCursors(resetOn: unknown[]) {
  const key = JSON.stringify(resetOn);
  const [state, setState] = useState<{ key: string; stack: CursorStack }>({ key, stack: [] });
  // Decided while rendering, not in an effect: a new search never asks once more with the old cursor.
  const stack = state.key === key ? state.stack : [];
  return {
    stack,
    cursor: currentCursor(stack),
    setStack: (next: CursorStack) => setState({ key, stack: next }),
  };
}

/** Previous/next page buttons over a cursor stack (see paging.ts); nothing when there is one page. */
export function Pager({
  stack,
  next,
  onChange,
  label = 'Pages',
}: {
  stack: CursorStack;
  next: string | undefined;
  onChange(stack: CursorStack): void;
  label?: string;
}) {
  const view = pagerView(stack, next);
  if (!view.previous && !view.next) return null;
  return (
    <nav class="pager" aria-label={label}>
      {view.previous && (
        <button type="button" onClick={() => onChange(back(stack))}>
          Previous page
        </button>
      )}
      <span class="muted">Page {view.page}</span>
      {view.next && (
        <button type="button" onClick={() => onChange(forward(stack, next as string))}>
          Next page
        </button>
      )}
    </nav>
  );
}
