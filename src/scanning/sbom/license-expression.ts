// SPDX license expressions (SPDX 2.3 Annex D): a declared license is written into an SBOM only as a valid
// expression, its ids in their canonical case; anything else (free text such as `MIT License`, `BSD`, `GPLv2+`)
// is not an expression and the writers keep it apart (a LicenseRef in SPDX, a license name in CycloneDX).
import { SPDX_LICENSE_IDS } from './spdx-license-list.js';

/** Lowercased id → canonical id: Annex D matches license ids case-insensitively. */
const CANONICAL = new Map(SPDX_LICENSE_IDS.map((id) => [id.toLowerCase(), id]));

const IDSTRING = /^[A-Za-z0-9.-]+$/;
const LICENSE_REF = /^(?:DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$/;
/** Longer inputs are not declarations Berth met in a package database; they are texts. */
const MAX_EXPRESSION_LENGTH = 1024;

/** A parsed expression: one license (maybe `+`, maybe WITH an exception) or a conjunction/disjunction. */
export type LicenseNode =
  | { kind: 'license'; id: string; orLater: boolean; exception?: string }
  | { kind: 'ref'; ref: string }
  | { kind: 'and' | 'or'; left: LicenseNode; right: LicenseNode };

/** The canonical form of an SPDX expression, or null when `input` is not one (unknown id, bad syntax). */
export function normalizeLicenseExpression(input: string): string | null {
  const node = parseLicenseExpression(input);
  return node === null ? null : render(node, 0);
}

export function parseLicenseExpression(input: string): LicenseNode | null {
  if (input.length > MAX_EXPRESSION_LENGTH) return null;
  const tokens = input
    .replace(/([()])/g, ' $1 ')
    .split(/\s+/)
    .filter(Boolean);
  if (tokens.length === 0) return null;
  let at = 0;

  // Precedence, tightest first: `+`, WITH, AND, OR (Annex D.4.6); operators are upper or lower case.
  const op = (word: string): boolean => {
    const token = tokens[at];
    if (token !== word && token !== word.toLowerCase()) return false;
    at++;
    return true;
  };
  const orExpression = (): LicenseNode | null => {
    let left = andExpression();
    while (left && op('OR')) {
      const right = andExpression();
      left = right ? { kind: 'or', left, right } : null;
    }
    return left;
  };
  const andExpression = (): LicenseNode | null => {
    let left = withExpression();
    while (left && op('AND')) {
      const right = withExpression();
      left = right ? { kind: 'and', left, right } : null;
    }
    return left;
  };
  const withExpression = (): LicenseNode | null => {
    const token = tokens[at++];
    if (token === undefined) return null;
    if (token === '(') {
      const inner = orExpression();
      return inner && tokens[at++] === ')' ? inner : null;
    }
    if (LICENSE_REF.test(token)) return { kind: 'ref', ref: token };
    const orLater = token.endsWith('+');
    const id = CANONICAL.get((orLater ? token.slice(0, -1) : token).toLowerCase());
    if (!id || !IDSTRING.test(id)) return null;
    if (!op('WITH')) return { kind: 'license', id, orLater };
    const exception = CANONICAL.get((tokens[at++] ?? '').toLowerCase());
    return exception ? { kind: 'license', id, orLater, exception } : null;
  };

  const node = orExpression();
  return node && at === tokens.length ? node : null;
}

const PRECEDENCE = { or: 1, and: 2 } as const;

function render(node: LicenseNode, parent: number): string {
  if (node.kind === 'ref') return node.ref;
  if (node.kind === 'license') {
    const id = `${node.id}${node.orLater ? '+' : ''}`;
    return node.exception ? `${id} WITH ${node.exception}` : id;
  }
  const own = PRECEDENCE[node.kind];
  const text = `${render(node.left, own)} ${node.kind.toUpperCase()} ${render(node.right, own)}`;
  return own < parent ? `(${text})` : text;
}
