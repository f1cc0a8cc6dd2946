import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode, RegistryError } from '../../src/registry/errors.js';

describe('RegistryError default statuses', () => {
  // distribution-spec v1.1 "Error Codes" plus Berth's additions.
  it.each<[ErrorCode, number]>([
    ['BLOB_UNKNOWN', 404],
    ['BLOB_UPLOAD_INVALID', 400],
    ['BLOB_UPLOAD_UNKNOWN', 404],
    ['DIGEST_INVALID', 400],
    ['MANIFEST_BLOB_UNKNOWN', 400],
    ['MANIFEST_INVALID', 400],
    ['MANIFEST_UNKNOWN', 404],
    ['NAME_INVALID', 400],
    ['NAME_UNKNOWN', 404],
    ['SIZE_INVALID', 400],
    ['UNAUTHORIZED', 401],
    ['DENIED', 403],
    ['UNSUPPORTED', 405],
    ['TOOMANYREQUESTS', 429],
    ['PAGINATION_NUMBER_INVALID', 400],
    ['RANGE_INVALID', 416],
    ['NOT_FOUND', 404],
    ['CONFLICT', 409],
    ['INVALID_REQUEST', 400],
    ['UNKNOWN', 500],
    ['UNAVAILABLE', 503],
  ])('%s defaults to %i with the table message', (code, status) => {
    const error = new RegistryError(code);
    expect(error.status).toBe(status);
    expect(error.code).toBe(code);
    expect(error.message).toBe(ERROR_CODES[code].message);
    expect(error.message).not.toBe('');
    expect(error.detail).toBeUndefined();
    expect(error.headers).toEqual({});
  });

  it('covers every declared code in the table above', () => {
    expect(Object.keys(ERROR_CODES)).toHaveLength(21);
  });
});

describe('RegistryError', () => {
  it('is an Error named RegistryError with a stack', () => {
    const error = new RegistryError('BLOB_UNKNOWN');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error.name).toBe('RegistryError');
    expect(error.stack).toContain('RegistryError');
  });

  it.each([
    ['status', { status: 416 }, { status: 416, message: 'blob upload invalid', headers: {} }],
    [
      'message',
      { message: 'chunk out of order' },
      { status: 400, message: 'chunk out of order', headers: {} },
    ],
    [
      'headers',
      { headers: { range: '0-99' } },
      { status: 400, message: 'blob upload invalid', headers: { range: '0-99' } },
    ],
    [
      'all of them',
      { status: 416, message: 'out of order', headers: { range: '0-9' }, detail: { offset: 10 } },
      { status: 416, message: 'out of order', headers: { range: '0-9' }, detail: { offset: 10 } },
    ],
  ])('applies an override of %s', (_label, options, expected) => {
    const error = new RegistryError('BLOB_UPLOAD_INVALID', options);
    expect(error.code).toBe('BLOB_UPLOAD_INVALID');
    expect({
      status: error.status,
      message: error.message,
      headers: error.headers,
      ...(error.detail === undefined ? {} : { detail: error.detail }),
    }).toEqual(expected);
  });
});

describe('RegistryError.toBody', () => {
  it.each<[string, ErrorCode, ConstructorParameters<typeof RegistryError>[1], unknown]>([
    [
      'no detail',
      'BLOB_UNKNOWN',
      undefined,
      { errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] },
    ],
    [
      'an object detail',
      'NAME_INVALID',
      { detail: { name: 'A' } },
      { errors: [{ code: 'NAME_INVALID', message: 'invalid repository name', detail: { name: 'A' } }] },
    ],
    [
      'a null detail',
      'DIGEST_INVALID',
      { detail: null },
      {
        errors: [
          { code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content', detail: null },
        ],
      },
    ],
    [
      'a string detail and message override',
      'UNSUPPORTED',
      { message: 'deletes are disabled', detail: 'x' },
      { errors: [{ code: 'UNSUPPORTED', message: 'deletes are disabled', detail: 'x' }] },
    ],
  ])('renders %s', (_label, code, options, expected) => {
    const body = new RegistryError(code, options).toBody();
    expect(body).toEqual(expected);
    // Round-trips through JSON exactly as the error hook sends it.
    expect(JSON.parse(JSON.stringify(body))).toEqual(expected);
  });

  it('omits the detail key entirely when there is no detail', () => {
    const [entry] = new RegistryError('MANIFEST_UNKNOWN').toBody().errors;
    expect(Object.keys(entry ?? {}).sort()).toEqual(['code', 'message']);
  });

  it('does not put the status or headers in the body', () => {
    const body = new RegistryError('RANGE_INVALID', { headers: { 'content-range': 'bytes */1' } }).toBody();
    expect(JSON.stringify(body)).not.toContain('416');
    expect(JSON.stringify(body)).not.toContain('content-range');
  });
});
