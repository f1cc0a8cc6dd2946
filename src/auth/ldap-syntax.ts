/**
 * The bits of LDAP string syntax the authenticator needs: filter value escaping (RFC 4515), filter templates
 * with `{username}`/`{dn}` placeholders, and the first RDN value of a DN (RFC 4514) for group names.
 */

/**
 * RFC 4515 section 3: in an assertion value, `*`, `(`, `)`, `\` and NUL must be written as `\XX`. Other
 * control characters are escaped too, so a value can never change the shape of the filter it lands in.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are escaped on purpose.
    /[*()\\\u0000-\u001f\u007f]/g,
    (char) => `\\${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

const PLACEHOLDER = /\{([a-zA-Z]+)\}/g;

/** The placeholders a template uses, e.g. ['username'] for `(uid={username})`. */
export function filterPlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((match) => match[1] as string);
}

/** Substitutes `{name}` placeholders with escaped values; an unknown placeholder is an error, not left in. */
export function fillFilter(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = values[name];
    if (value === undefined)
      throw new RangeError(`LDAP filter ${template} uses unknown placeholder ${whole}`);
    return escapeFilterValue(value);
  });
}

function unescapeDnValue(value: string): string {
  // RFC 4514 section 2.4: `\` followed by a special character, or by two hex digits (UTF-8 bytes).
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const char = value[i] as string;
    if (char === '\\' && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (char === '\\' && i + 1 < value.length) {
      bytes.push(...Buffer.from(value[i + 1] as string, 'utf8'));
      i += 1;
    } else {
      bytes.push(...Buffer.from(char, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `cn=dev\, ops,ou=groups,dc=x` → `dev, ops`. For a multi-valued RDN (`cn=a+uid=b`), the first value. */
export function firstRdnValue(dn: string): string {
  let end = dn.length;
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === '\\') i += 1;
    else if (dn[i] === ',' || dn[i] === '+') {
      end = i;
      break;
    }
  }
  const rdn = dn.slice(0, end);
  const equals = rdn.indexOf('=');
  return unescapeDnValue(rdn.slice(equals + 1).trim());
}
