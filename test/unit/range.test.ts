import { describe, expect, it } from 'vitest';
import { RegistryError } from '../../src/registry/errors.js';
import {
  type ByteRange,
  parseContentRange,
  parseRangeHeader,
  type RangeRequest,
  rangeNotSatisfiable,
} from '../../src/registry/range.js';

describe('parseContentRange', () => {
  it.each<[string, ByteRange]>([
    ['0-9', { start: 0, end: 9 }],
    ['0-0', { start: 0, end: 0 }],
    ['10-19', { start: 10, end: 19 }],
    ['5-5', { start: 5, end: 5 }],
    [' 0-9 ', { start: 0, end: 9 }],
    ['bytes 0-9/10', { start: 0, end: 9 }],
    ['bytes 0-9/*', { start: 0, end: 9 }],
    ['bytes 100-199/1000', { start: 100, end: 199 }],
    ['999999999999998-999999999999999', { start: 999_999_999_999_998, end: 999_999_999_999_999 }],
    ['0-999999999999999', { start: 0, end: 999_999_999_999_999 }],
    ['007-010', { start: 7, end: 10 }],
  ])('parses %j', (header, expected) => {
    expect(parseContentRange(header)).toEqual(expected);
  });

  it.each([
    ['end before start', '9-0'],
    ['end before start with unit', 'bytes 5-4/10'],
    ['empty', ''],
    ['whitespace', '   '],
    ['garbage', 'garbage'],
    ['missing end', '0-'],
    ['missing start', '-9'],
    ['negative start', '-1-9'],
    ['Range request syntax', 'bytes=0-9'],
    ['unit without space', 'bytes0-9'],
    ['other unit', 'items 0-9/10'],
    ['non-numeric total', 'bytes 0-9/ten'],
    ['unsatisfied-range form', 'bytes */10'],
    ['multiple ranges', '0-9,10-19'],
    ['fractional', '0-9.5'],
    ['hex', '0x0-0x9'],
    ['exponent', '0-1e3'],
    ['plus sign', '+0-9'],
    ['16-digit start', '1000000000000000-1000000000000001'],
    ['16-digit end', '0-1000000000000000'],
    ['20-digit numbers', '0-99999999999999999999'],
  ])('returns null for %s (%j)', (_label, header) => {
    expect(parseContentRange(header)).toBeNull();
  });
});

describe('parseRangeHeader', () => {
  const range = (start: number, end: number): RangeRequest => ({ kind: 'range', range: { start, end } });
  const none: RangeRequest = { kind: 'none' };
  const unsatisfiable: RangeRequest = { kind: 'unsatisfiable' };

  describe.each<[string, string | undefined, number, RangeRequest]>([
    // Satisfiable ranges.
    ['first ten bytes', 'bytes=0-9', 100, range(0, 9)],
    ['a middle slice', 'bytes=10-19', 100, range(10, 19)],
    ['the last byte', 'bytes=99-99', 100, range(99, 99)],
    ['an end past the size, clamped', 'bytes=0-1000', 100, range(0, 99)],
    ['a huge end, clamped', 'bytes=50-999999999999999', 100, range(50, 99)],
    ['open-ended from 10', 'bytes=10-', 100, range(10, 99)],
    ['open-ended from 0', 'bytes=0-', 100, range(0, 99)],
    ['open-ended from the last byte', 'bytes=99-', 100, range(99, 99)],
    ['suffix of 10', 'bytes=-10', 100, range(90, 99)],
    ['suffix of the whole size', 'bytes=-100', 100, range(0, 99)],
    ['suffix longer than the blob', 'bytes=-1000', 100, range(0, 99)],
    ['surrounding whitespace', '  bytes=0-9  ', 100, range(0, 9)],
    ['one-byte blob, first byte', 'bytes=0-0', 1, range(0, 0)],
    ['one-byte blob, suffix', 'bytes=-1', 1, range(0, 0)],
    // Well-formed but past the end: 416.
    ['start at the size', 'bytes=100-', 100, unsatisfiable],
    ['start past the size', 'bytes=100-200', 100, unsatisfiable],
    ['start far past the size', 'bytes=999999999999999-', 100, unsatisfiable],
    ['zero-length suffix', 'bytes=-0', 100, unsatisfiable],
    ['empty blob, from 0', 'bytes=0-', 0, unsatisfiable],
    ['empty blob, first byte', 'bytes=0-0', 0, unsatisfiable],
    ['empty blob, zero-length suffix', 'bytes=-0', 0, unsatisfiable],
    // Not a single well-formed byte range: ignored.
    ['no header', undefined, 100, none],
    ['empty header', '', 100, none],
    ['garbage', 'garbage', 100, none],
    ['unit only', 'bytes=', 100, none],
    ['dash only', 'bytes=-', 100, none],
    ['end before start', 'bytes=9-0', 100, none],
    ['multi-range', 'bytes=0-9,20-29', 100, none],
    ['multi-range with spaces', 'bytes=0-9, 20-29', 100, none],
    ['multi-range of suffixes', 'bytes=-1,-2', 100, none],
    ['other unit', 'items=0-9', 100, none],
    ['Content-Range syntax', 'bytes 0-9/100', 100, none],
    ['non-numeric', 'bytes=a-b', 100, none],
    ['negative start', 'bytes=-1-9', 100, none],
    ['fractional', 'bytes=0.5-9', 100, none],
    ['whitespace inside', 'bytes= 0-9', 100, none],
    ['multi-range on an empty blob', 'bytes=0-0,-1', 0, none],
    ['garbage on an empty blob', 'nonsense', 0, none],
  ])('%s: %j against %i bytes', (_label, header, size, expected) => {
    it(`is ${expected.kind}`, () => {
      expect(parseRangeHeader(header, size)).toEqual(expected);
    });
  });

  // RFC 9110 §14.1.2: "When a selected representation has zero length, the only satisfiable form of
  // range-spec in a GET request is a suffix-range with a non-zero suffix-length." Such a request must not
  // be answered 416; with nothing to put in a 206, the server ignores the header (§14.2) and sends 200.
  it.each(['bytes=-1', 'bytes=-5'])(
    'does not refuse the satisfiable suffix range %j on an empty blob',
    (h) => {
      expect(parseRangeHeader(h, 0)).toEqual(none);
    },
  );
});

describe('rangeNotSatisfiable', () => {
  it.each([0, 1, 100, 999_999_999_999])('builds a 416 RANGE_INVALID for size %i', (size) => {
    const error = rangeNotSatisfiable(size);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.code).toBe('RANGE_INVALID');
    expect(error.status).toBe(416);
    expect(error.headers).toEqual({ 'content-range': `bytes */${size}` });
    expect(error.detail).toEqual({ size });
    expect(error.toBody()).toEqual({
      errors: [{ code: 'RANGE_INVALID', message: 'requested range not satisfiable', detail: { size } }],
    });
  });
});
