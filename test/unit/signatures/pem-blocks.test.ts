// Splitting PEM text into certificate blocks: the same blocks the former lazy regex found, in one linear pass
// (the regex re-scanned to the end of the text from every unmatched BEGIN: quadratic, ~4.5 s for 20,000 markers).
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pemCertificateBlocks } from '../../../src/signatures/trust/pem-blocks.js';
import { normalizeCertificates } from '../../../src/signatures/trust/trust-validation.js';

const ROOT_CA = readFileSync(new URL('../../fixtures/trust/notation-root-ca.pem', import.meta.url), 'utf8');
const BEGIN = '-----BEGIN CERTIFICATE-----';
const END = '-----END CERTIFICATE-----';
const FORMER = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

describe('pemCertificateBlocks', () => {
  it('finds each block, in order, and nothing outside blocks', () => {
    expect(pemCertificateBlocks('')).toEqual([]);
    expect(pemCertificateBlocks('no certificate here')).toEqual([]);
    expect(pemCertificateBlocks(`x${BEGIN}\nAA\n${END}y${BEGIN}\nBB\n${END}\n`)).toEqual([
      `${BEGIN}\nAA\n${END}`,
      `${BEGIN}\nBB\n${END}`,
    ]);
    // As the regex's `[\s\S]+?`: at least one character between the markers, and the first END closes.
    expect(pemCertificateBlocks(`${BEGIN}${END}`)).toEqual([]);
    expect(pemCertificateBlocks(`${BEGIN}${END}x${END}`)).toEqual([`${BEGIN}${END}x${END}`]);
    expect(pemCertificateBlocks(`${BEGIN}a${BEGIN}b${END}`)).toEqual([`${BEGIN}a${BEGIN}b${END}`]);
  });

  it('agrees with the former regex on random texts made of markers and filler', () => {
    const piece = fc.constantFrom(BEGIN, END, '-----BEGIN ', 'CERTIFICATE-----', '-', '\n', 'MIIB', '');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 30 }), (pieces) => {
        const text = pieces.join('');
        expect(pemCertificateBlocks(text)).toEqual(text.match(FORMER) ?? []);
      }),
      { numRuns: 2000 },
    );
  });

  it('gives the right answer for 50,000 unmatched BEGIN markers, before and after a real certificate', () => {
    const markers = `${BEGIN}\n`.repeat(50_000);
    expect(pemCertificateBlocks(markers)).toEqual([]);
    const ca = ROOT_CA.trim();
    // After the certificate, the unmatched markers are no block at all.
    expect(pemCertificateBlocks(`${ca}\n${markers}`)).toEqual([ca]);
    expect(normalizeCertificates([`${ca}\n${markers}`])).toHaveLength(1);
    // Before it, the first BEGIN opens one block that runs to the certificate's END:
    // one block, refused as not a certificate rather than scanned for minutes.
    const blocks = pemCertificateBlocks(`${markers}${ca}`);
    expect(blocks).toHaveLength(1);
    expect(blocks[0]?.startsWith(`${BEGIN}\n${BEGIN}`)).toBe(true);
    expect(blocks[0]?.endsWith(END)).toBe(true);
    expect(() => normalizeCertificates([markers])).toThrow(/at least one PEM certificate/);
  });
});
