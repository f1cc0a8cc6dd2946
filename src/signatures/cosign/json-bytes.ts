// Decoding untrusted bytes and strings without throwing: strict UTF-8 JSON objects and strict base64.

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The JSON object these bytes hold, or undefined (not UTF-8, not JSON, or not an object). */
export function parseJsonObject(bytes: Uint8Array): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(utf8.decode(bytes));
    return isJsonObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Standard base64 with padding (what cosign's annotations and Go's encoding/json hold), or unpadded base64url
 * (which protobuf JSON parsers also accept); undefined for anything else. Buffer.from alone skips bad characters.
 */
export function decodeBase64(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  const text = value.trim();
  if (BASE64.test(text)) return new Uint8Array(Buffer.from(text, 'base64'));
  if (BASE64URL.test(text) && text.length % 4 !== 1) return new Uint8Array(Buffer.from(text, 'base64url'));
  return undefined;
}
