/**
 * The bearer token of the PBX API: one token per PBX, and the token says which PBX is calling.
 * Compared in constant time over digests, so neither a token's content nor its length leaks
 * through timing, and every configured token is compared so the position of the match does not
 * leak either.
 */
import { sameSecret } from '../../security/index.ts';
import { ok, problem, refuse, type Parsed } from './errors.ts';

interface PbxCredential {
  readonly id: string;
  readonly token: string;
}

/** The id of the PBX whose token the `Authorization` header carries. */
export function authenticatePbx(
  authorization: string | undefined,
  credentials: readonly PbxCredential[],
): Parsed<string> {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
  const token = match?.[1];
  if (token === undefined)
    return refuse(
      problem('UNAUTHORIZED', '/authorization', 'expected an Authorization: Bearer <token> header', 'header'),
    );
  let found: string | null = null;
  for (const credential of credentials) {
    if (sameSecret(token, credential.token) && found === null) found = credential.id;
  }
  return found === null
    ? refuse(
        problem('UNAUTHORIZED', '/authorization', 'the bearer token matches no configured PBX', 'header'),
      )
    : ok(found);
}
