// Trusted identities (trust-store-trust-policy.md "Trusted Identities Constraints"): "*" or
// "x509.subject: C=US, ST=WA, O=Acme, CN=ci" — a full or partial list of the signing certificate's subject
// attributes, each of which must be present in the subject with exactly that value.
import type * as x509 from './x509.js';

export const ANY_IDENTITY = '*';
const SUBJECT_PREFIX = 'x509.subject:';

/** Attribute names accepted in a trusted identity (upper-cased), by OID. */
const IDENTITY_ATTRIBUTES: Record<string, string> = {
  C: '2.5.4.6',
  ST: '2.5.4.8',
  S: '2.5.4.8',
  L: '2.5.4.7',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  CN: '2.5.4.3',
  STREET: '2.5.4.9',
  SERIALNUMBER: '2.5.4.5',
  POSTALCODE: '2.5.4.17',
  T: '2.5.4.12',
  TITLE: '2.5.4.12',
  SN: '2.5.4.4',
  SURNAME: '2.5.4.4',
  G: '2.5.4.42',
  GN: '2.5.4.42',
  GIVENNAME: '2.5.4.42',
  I: '2.5.4.43',
  INITIALS: '2.5.4.43',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  E: '1.2.840.113549.1.9.1',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
};
/** The short names @peculiar/x509's Name.toJSON() uses for a certificate's subject; other types come as OIDs. */
const LIBRARY_NAMES: Record<string, string> = {
  CN: '2.5.4.3',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  C: '2.5.4.6',
  DC: '0.9.2342.19200300.100.1.25',
  E: '1.2.840.113549.1.9.1',
  G: '2.5.4.42',
  I: '2.5.4.43',
  SN: '2.5.4.4',
  T: '2.5.4.12',
};
const REQUIRED = [
  ['C', '2.5.4.6'],
  ['ST', '2.5.4.8'],
  ['O', '2.5.4.10'],
] as const;
const OID = /^\d+(\.\d+)+$/;

type ParsedIdentity = { any: true } | { any: false; attributes: Map<string, string> };

/** Why a trusted identity is not well-formed, or undefined when it is (for validating trust configuration). */
export function checkTrustedIdentity(identity: string): string | undefined {
  try {
    parseTrustedIdentity(identity);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Whether the signing certificate's subject satisfies the trusted identity; malformed identities match nothing. */
export function matchesTrustedIdentity(identity: string, subject: x509.Name): boolean {
  let parsed: ParsedIdentity;
  try {
    parsed = parseTrustedIdentity(identity);
  } catch {
    return false;
  }
  if (parsed.any) return true;
  const values = subjectValues(subject);
  for (const [oid, value] of parsed.attributes) {
    if (!values.get(oid)?.includes(value)) return false;
  }
  return true;
}

function subjectValues(subject: x509.Name): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const rdn of subject.toJSON()) {
    for (const [type, typeValues] of Object.entries(rdn)) {
      const oid = LIBRARY_NAMES[type] ?? type;
      values.set(oid, [...(values.get(oid) ?? []), ...typeValues]);
    }
  }
  return values;
}

function parseTrustedIdentity(identity: string): ParsedIdentity {
  const text = identity.trim();
  if (text === ANY_IDENTITY) return { any: true };
  if (!text.startsWith(SUBJECT_PREFIX)) {
    throw new Error(
      `A trusted identity is "*" or starts with "${SUBJECT_PREFIX}"; got ${JSON.stringify(identity)}.`,
    );
  }
  const attributes = new Map<string, string>();
  for (const part of splitUnescaped(text.slice(SUBJECT_PREFIX.length))) {
    const equals = indexOfUnescaped(part, '=');
    if (equals < 0) throw new Error(`"${part.trim()}" in a trusted identity is not TYPE=value.`);
    const type = part.slice(0, equals).trim().toUpperCase();
    const oid = IDENTITY_ATTRIBUTES[type] ?? (OID.test(type) ? type : undefined);
    if (!oid) throw new Error(`"${type}" is not a known subject attribute type.`);
    const value = unescapeValue(part.slice(equals + 1));
    if (value === '') throw new Error(`The ${type} attribute of a trusted identity is empty.`);
    if (attributes.has(oid)) throw new Error(`A trusted identity names the ${type} attribute twice.`);
    attributes.set(oid, value);
  }
  for (const [type, oid] of REQUIRED) {
    if (!attributes.has(oid))
      throw new Error(`A trusted identity must name C, ST and O; ${type} is missing.`);
  }
  return { any: false, attributes };
}

/** Splits at unescaped RDN separators (",", ";", and "+" of multi-valued RDNs, each matched on its own). */
function splitUnescaped(text: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === ',' || text[i] === ';' || text[i] === '+') {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function indexOfUnescaped(text: string, char: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === char) return i;
  }
  return -1;
}

/** RFC 4514 §2.4 value escapes ("\," "\\" "\ " and "\HH" hex pairs); unescaped outer spaces are not part of it. */
function unescapeValue(raw: string): string {
  const chars = Array.from(raw); // code points, so that characters outside the BMP stay whole
  const bytes: number[] = [];
  let keepUntil = 0; // bytes up to here end in an escaped character and survive trimming
  let i = 0;
  while (chars[i] === ' ') i++;
  for (; i < chars.length; i++) {
    const char = chars[i] as string;
    if (char !== '\\') {
      bytes.push(...Buffer.from(char, 'utf8'));
      continue;
    }
    const hex = `${chars[i + 1] ?? ''}${chars[i + 2] ?? ''}`;
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else {
      const escaped = chars[i + 1];
      if (escaped === undefined) throw new Error('A trusted identity ends with a lone backslash.');
      bytes.push(...Buffer.from(escaped, 'utf8'));
      i++;
    }
    keepUntil = bytes.length;
  }
  let end = bytes.length;
  while (end > keepUntil && bytes[end - 1] === 0x20) end--;
  return Buffer.from(bytes.slice(0, end)).toString('utf8');
}
