import { compareDigits, type Ordering, sign } from './invalid-version.js';

// Maven's ComparableVersion: items separated by `.` and `-` (and by a switch between digits and letters,
// which acts as `-`); each `-` opens a sub-list. Trailing "null" items (0, "", ga, final, release) are
// dropped. Numbers > sub-lists > qualifiers; known qualifiers rank
// alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp, unknown ones after, by name.

type Item =
  | { kind: 'int'; value: string }
  | { kind: 'string'; value: string }
  | { kind: 'list'; items: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_RANK = QUALIFIERS.indexOf('');

function stringItem(text: string, followedByDigit: boolean): Item {
  let value = text;
  if (followedByDigit && value.length === 1) {
    value = { a: 'alpha', b: 'beta', m: 'milestone' }[value] ?? value;
  }
  return { kind: 'string', value: ALIASES[value] ?? value };
}

function item(text: string, isDigit: boolean, followedByDigit: boolean): Item {
  return isDigit ? { kind: 'int', value: text.replace(/^0+(?=.)/, '') } : stringItem(text, followedByDigit);
}

function isNull(it: Item): boolean {
  if (it.kind === 'int') return it.value === '0';
  if (it.kind === 'string') return it.value === '';
  return it.items.length === 0;
}

/** Drops trailing null items, stopping at the first non-null one that is not a list. */
function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const last = list[i] as Item;
    if (isNull(last)) list.splice(i, 1);
    else if (last.kind !== 'list') break;
  }
}

function parse(version: string): Item[] {
  const text = version.trim().toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  let isDigit = false;
  let start = 0;
  const openList = () => {
    const sub: Item[] = [];
    list.push({ kind: 'list', items: sub });
    list = sub;
    stack.push(sub);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '.' || c === '-') {
      list.push(i === start ? { kind: 'int', value: '0' } : item(text.slice(start, i), isDigit, false));
      start = i + 1;
      if (c === '-') openList();
    } else if (c >= '0' && c <= '9') {
      if (!isDigit && i > start) {
        // `1a1`: a letter run followed by digits, e.g. `a1` = alpha-1; `.X` is read as `-X` (1.0.0.X1 < 1.0.0-X2).
        if (list.length > 0) openList();
        list.push(stringItem(text.slice(start, i), true));
        start = i;
        openList();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(item(text.slice(start, i), true, false));
        start = i;
        openList();
      }
      isDigit = false;
    }
  }
  if (text.length > start) {
    if (!isDigit && list.length > 0) openList();
    list.push(item(text.slice(start), isDigit, false));
  }
  for (const l of stack.reverse()) normalize(l);
  return root;
}

function qualifierRank(value: string): string {
  const rank = QUALIFIERS.indexOf(value);
  return rank >= 0 ? String(rank) : `${QUALIFIERS.length}-${value}`;
}

/** Compares an item with a missing one (the shorter version's end). */
function compareToNull(it: Item): Ordering {
  if (it.kind === 'int') return it.value === '0' ? 0 : 1;
  if (it.kind === 'string') return compareStrings(qualifierRank(it.value), String(RELEASE_RANK));
  const first = it.items[0];
  return first === undefined ? 0 : compareToNull(first);
}

function compareStrings(a: string, b: string): Ordering {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareItems(a: Item | undefined, b: Item | undefined): Ordering {
  if (a === undefined) return b === undefined ? 0 : (-compareToNull(b) as Ordering);
  if (b === undefined) return compareToNull(a);
  if (a.kind === 'int') return b.kind === 'int' ? compareDigits(a.value, b.value) : 1;
  if (a.kind === 'string') {
    if (b.kind === 'string') return compareStrings(qualifierRank(a.value), qualifierRank(b.value));
    return -1;
  }
  if (b.kind === 'int') return -1;
  if (b.kind === 'string') return 1;
  return compareLists(a.items, b.items);
}

function compareLists(a: Item[], b: Item[]): Ordering {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = compareItems(a[i], b[i]);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** Maven versions compare whatever their text: there is no invalid Maven version. */
export function compareMaven(a: string, b: string): Ordering {
  return sign(compareLists(parse(a), parse(b)));
}
