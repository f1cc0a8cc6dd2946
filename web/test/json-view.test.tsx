// The foldable JSON tree of the artifact page (manifest and config).
import { describe, expect, it } from 'vitest';
import { entriesOf, JsonTree, summarize } from '../src/components/json-view';
import { expand, findAll, text } from './render';

const manifest = {
  schemaVersion: 2,
  config: { digest: 'sha256:abc', size: 2 },
  layers: [{ digest: 'sha256:def', size: 10, annotations: { a: 'b' } }],
  subject: null,
};

describe('summarize and entriesOf', () => {
  it('sums up objects and arrays, and shows scalars as JSON', () => {
    expect(summarize(manifest)).toBe('{4 keys}');
    expect(summarize({ a: 1 })).toBe('{1 key}');
    expect(summarize([1])).toBe('[1 item]');
    expect(summarize([])).toBe('[0 items]');
    expect(summarize('text "quoted"')).toBe('"text \\"quoted\\""');
    expect(summarize(null)).toBe('null');
    expect(summarize(false)).toBe('false');
  });
  it('lists children by key in stored order, by index for arrays, none for scalars', () => {
    expect(entriesOf({ b: 1, a: 2 })).toEqual([
      ['b', 1],
      ['a', 2],
    ]);
    expect(entriesOf(['x', 'y'])).toEqual([
      ['0', 'x'],
      ['1', 'y'],
    ]);
    expect(entriesOf(7)).toEqual([]);
  });
});

describe('JsonTree', () => {
  it('folds objects and arrays, the first levels open, and shows every value', () => {
    const rendered = expand(<JsonTree value={manifest} openDepth={2} />);
    const folds = findAll(rendered, (e) => e.type === 'details');
    // config, layers, layers[0], layers[0].annotations
    expect(folds.map((d) => text(findAll(d, (e) => e.type === 'summary')[0] ?? []))).toEqual([
      'config {2 keys}',
      'layers [1 item]',
      '0 {3 keys}',
      'annotations {1 key}',
    ]);
    expect(folds.map((d) => d.props.open)).toEqual([true, true, true, false]);
    const all = text(rendered);
    for (const shown of ['schemaVersion: 2', 'digest: "sha256:abc"', 'size: 10', 'a: "b"', 'subject: null']) {
      expect(all).toContain(shown);
    }
  });
  it('shows a scalar or an empty object as itself', () => {
    expect(text(expand(<JsonTree value="plain" />))).toBe('"plain"');
    expect(text(expand(<JsonTree value={{}} />))).toBe('{0 keys}');
  });
});
