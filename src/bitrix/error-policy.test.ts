import { describe, expect, it } from 'vitest';
import {
  errorPolicy,
  errorRule,
  failureKind,
  isCallNotFound,
  isLinkFailure,
  ranNothing,
  retryRules,
} from './error-policy.ts';
import { BitrixError, errorCodes, portalError } from './errors.ts';
import { defaultRetryPolicy, retryPolicy } from './retry.ts';

const err = (code: BitrixError['code'], cause?: unknown): BitrixError =>
  new BitrixError(code, `x: ${code}`, cause === undefined ? {} : { cause });

describe('the error table', () => {
  it('has one row per error code, and nothing else', () => {
    expect(Object.keys(errorPolicy).sort()).toEqual([...errorCodes].sort());
  });

  it.each([
    ['RATE_LIMITED', 'wait', 'unavailable', 'slow-down', false, true],
    ['OPERATION_TIME_LIMIT', 'wait', 'unavailable', 'none', false, true],
    ['TOKEN_EXPIRED', 'wait', 'attention', 'refresh', false, true],
    ['AUTH_FAILED', 'never', 'attention', 'refresh', false, true],
    ['NEEDS_REINSTALL', 'never', 'attention', 'reinstall', false, false],
    ['ACCESS_DENIED', 'never', 'rejected', 'none', false, true],
    ['NETWORK', 'attempt', 'unavailable', 'pause', true, false],
    ['TIMEOUT', 'attempt', 'unavailable', 'pause', true, false],
    ['SERVER_ERROR', 'attempt', 'unavailable', 'pause', true, false],
    ['BAD_RESPONSE', 'attempt', 'unavailable', 'pause', true, false],
    ['PORTAL_ERROR', 'never', 'rejected', 'none', false, false],
    ['DEPENDENCY_FAILED', 'never', 'rejected', 'none', false, false],
    ['INVALID_REQUEST', 'never', 'rejected', 'none', false, false],
    ['CLOSED', 'never', 'closed', 'none', false, false],
  ] as const)(
    '%s: retry %s, %s, portal %s, link down %s, ran nothing %s',
    (code, retry, kind, portal, linkDown, nothing) => {
      expect(errorPolicy[code]).toEqual({ retry, kind, portal, linkDown, ranNothing: nothing });
      const e = err(code);
      expect(errorRule(e)).toBe(errorPolicy[code]);
      expect(failureKind(e)).toBe(kind);
      expect(isLinkFailure(e)).toBe(linkDown);
      expect(ranNothing(e)).toBe(nothing);
    },
  );

  it('gives the client its default retry rules (an override changes only what it names)', () => {
    expect(defaultRetryPolicy.codes).toEqual(retryRules);
    const p = retryPolicy({ codes: { NETWORK: 'never' } });
    expect(p.codes.NETWORK).toBe('never');
    expect(p.codes.TIMEOUT).toBe(errorPolicy.TIMEOUT.retry);
  });

  it('reads a failed dependency as what made it fail', () => {
    const down = err('DEPENDENCY_FAILED', err('DEPENDENCY_FAILED', err('NETWORK')));
    expect(failureKind(down)).toBe('unavailable');
    expect(isLinkFailure(down)).toBe(true);
    expect(failureKind(err('DEPENDENCY_FAILED', err('PORTAL_ERROR')))).toBe('rejected');
    // A dependency that failed with something unknown: the dependency's own row.
    expect(failureKind(err('DEPENDENCY_FAILED', new TypeError('x')))).toBe('rejected');
    expect(failureKind(err('DEPENDENCY_FAILED'))).toBe('rejected');
  });

  it('knows no row for what is not a BitrixError', () => {
    expect(errorRule(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBeNull();
    expect(errorRule(new Error('NETWORK'))).toBeNull();
    expect(errorRule({ name: 'BitrixError', code: 'NO_SUCH_CODE' })).toBeNull();
    expect(errorRule({ name: 'BitrixError', code: 'toString' })).toBeNull();
    expect(errorRule('NETWORK')).toBeNull();
    expect(errorRule(null)).toBeNull();
    expect(errorRule(undefined)).toBeNull();
  });

  it('reads "Call is not found" on a portal error only', () => {
    const notFound = portalError(
      'telephony.externalCall.finish',
      { error: '', error_description: 'Call is not found' },
      400,
    );
    expect(isCallNotFound(notFound)).toBe(true);
    expect(isCallNotFound(portalError('x', { error: 'ERROR_CORE', error_description: 'other' }, 400))).toBe(
      false,
    );
    expect(isCallNotFound(err('NETWORK'))).toBe(false);
  });
});
