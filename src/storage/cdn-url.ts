import { createHash } from 'node:crypto';

/** storage.cdn: a CDN (or any edge cache) that serves the storage's objects under its own URL. */
export interface CdnOptions {
  /** The CDN's URL of the storage root: an object is at `<baseUrl>/<key>`. */
  baseUrl: string;
  /**
   * `nginx-secure-link`: nginx's secure_link module (`secure_link_md5 "$secure_link_expires$uri <secret>"`):
   * `?md5=<base64url of MD5("<expires><path> <secret>")>&expires=<unix seconds>`. `none`: plain URLs.
   */
  signing: 'none' | 'nginx-secure-link';
  secret: string;
  /** How long a signed URL works. */
  expirySeconds: number;
}

/**
 * The URL of the stored object `key` on the CDN, signed when the CDN checks signatures. `path` in the signed
 * string is the URL's path as nginx's `$uri` sees it (percent-decoded): `/<base path>/<key>`.
 */
export function cdnUrl(options: CdnOptions, key: string, now = Date.now()): string {
  const base = new URL(options.baseUrl);
  const url = new URL(`${base.pathname.replace(/\/+$/, '')}/${key}`, base.origin);
  if (options.signing === 'nginx-secure-link') {
    const expires = Math.floor(now / 1000) + options.expirySeconds;
    const path = decodeURIComponent(url.pathname);
    const md5 = createHash('md5').update(`${expires}${path} ${options.secret}`).digest('base64url');
    url.search = `md5=${md5}&expires=${expires}`;
  }
  return url.href;
}

/** What is wrong with storage.cdn (undefined: nothing), naming the key. */
export function cdnProblem(options: CdnOptions): string | undefined {
  if (options.baseUrl === '') {
    return options.secret === '' ? undefined : 'storage.cdn.secret is set but storage.cdn.baseUrl is not';
  }
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    return `storage.cdn.baseUrl is not a URL: ${options.baseUrl}`;
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') return 'storage.cdn.baseUrl must be http(s)';
  if (base.search || base.hash || base.username || base.password) {
    return 'storage.cdn.baseUrl must be a plain URL (no query, fragment or credentials)';
  }
  if (options.signing === 'nginx-secure-link' && options.secret === '') {
    return 'storage.cdn.signing nginx-secure-link needs storage.cdn.secret';
  }
  if (options.signing === 'none' && options.secret !== '') {
    return 'storage.cdn.secret is set but storage.cdn.signing is none: set signing to nginx-secure-link';
  }
  return undefined;
}
