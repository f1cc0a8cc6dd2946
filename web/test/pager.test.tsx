// Keyset paging: the cursor stack and the one Pager the projects, repositories and artifacts pages share.
import { describe, expect, it } from 'vitest';
import { Pager } from '../src/components/pager';
import { back, type CursorStack, currentCursor, forward, pagerView } from '../src/paging';
import { expand, findAll, text } from './render';

describe('the cursor stack', () => {
  it('walks forward with the next cursors and back to the first page', () => {
    let stack: CursorStack = [];
    expect(currentCursor(stack)).toBeUndefined();
    stack = forward(stack, 'c1');
    stack = forward(stack, 'c2');
    expect(currentCursor(stack)).toBe('c2');
    expect(pagerView(stack, 'c3')).toEqual({ page: 3, previous: true, next: true });
    stack = back(stack);
    expect(currentCursor(stack)).toBe('c1');
    stack = back(back(stack));
    expect(stack).toEqual([]);
    expect(pagerView(stack, undefined)).toEqual({ page: 1, previous: false, next: false });
  });
});

describe('Pager', () => {
  const buttons = (stack: CursorStack, next: string | undefined, onChange = (_: CursorStack) => {}) =>
    findAll(expand(<Pager stack={stack} next={next} onChange={onChange} />), (e) => e.type === 'button');

  it('shows nothing when all fits one page', () => {
    expect(expand(<Pager stack={[]} next={undefined} onChange={() => {}} />)).toEqual([]);
  });

  it('offers only the next page on the first, only the previous on the last', () => {
    expect(buttons([], 'c1').map((b) => text(b))).toEqual(['Next page']);
    expect(buttons(['c1'], undefined).map((b) => text(b))).toEqual(['Previous page']);
    const rendered = expand(<Pager stack={['c1']} next="c2" onChange={() => {}} label="Artifact pages" />);
    expect(findAll(rendered, (e) => e.type !== 'nav').map((e) => text(e))).toEqual([
      'Previous page',
      'Page 2',
      'Next page',
    ]);
    expect(rendered[0]).toMatchObject({ type: 'nav', props: { 'aria-label': 'Artifact pages' } });
  });

  it('hands the new stack to onChange', () => {
    const changes: CursorStack[] = [];
    const [previous, next] = buttons(['c1', 'c2'], 'c3', (stack) => changes.push(stack));
    const click = (button: { props: Record<string, unknown> } | undefined) => {
      if (!button) throw new Error('no such button');
      (button.props.onClick as () => void)();
    };
    click(previous);
    click(next);
    expect(changes).toEqual([['c1'], ['c1', 'c2', 'c3']]);
  });
});
