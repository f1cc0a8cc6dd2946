// A small renderer for tests of presentational components (no hooks): calls function components and walks the
// resulting virtual DOM, so tests can read the text and find elements without a browser or a DOM library.
import type { ComponentChildren, VNode } from 'preact';

export interface Element {
  type: string;
  props: Record<string, unknown>;
  children: Node[];
}
export type Node = Element | string;

/** Expands `node` into plain elements and strings (function components called, fragments flattened). */
export function expand(node: ComponentChildren): Node[] {
  if (node === null || node === undefined || typeof node === 'boolean') return [];
  if (typeof node === 'string' || typeof node === 'number' || typeof node === 'bigint') return [String(node)];
  if (Array.isArray(node)) return node.flatMap((child) => expand(child));
  const vnode = node as VNode<Record<string, unknown>>;
  const { children, ...props } = vnode.props as Record<string, unknown> & { children?: ComponentChildren };
  if (typeof vnode.type === 'function') {
    return expand((vnode.type as (p: unknown) => ComponentChildren)(vnode.props));
  }
  return [{ type: vnode.type as string, props, children: expand(children) }];
}

/** The text of nodes, whitespace collapsed. */
export function text(nodes: Node[] | Node): string {
  const all = Array.isArray(nodes) ? nodes : [nodes];
  return all
    .map((node) => (typeof node === 'string' ? node : text(node.children)))
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Every element under `nodes` (depth first) that `match` accepts. */
export function findAll(nodes: Node[] | Node, match: (element: Element) => boolean): Element[] {
  const all = Array.isArray(nodes) ? nodes : [nodes];
  return all.flatMap((node) =>
    typeof node === 'string' ? [] : [...(match(node) ? [node] : []), ...findAll(node.children, match)],
  );
}
