import { parseQuery } from 'b24-emulator';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeQuery } from '../../src/bitrix/encode.ts';

/**
 * Our encoder against the emulator's PHP-style parser (written separately from the spec): what we
 * encode is what the portal reads, for any nesting and any characters. Form values arrive as
 * strings, so the expected tree is the input with scalars stringified.
 */
type Tree = string | number | boolean | Tree[] | { [k: string]: Tree };

const key = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_!%=@<>-]{0,8}$/);
const scalar = fc.oneof(fc.string(), fc.integer(), fc.boolean());
const tree: fc.Arbitrary<Tree> = fc.letrec<{ node: Tree }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
    fc.dictionary(key, tie('node'), { minKeys: 1, maxKeys: 3 }),
  ),
})).node;

function asForm(v: Tree): unknown {
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return v.map(asForm);
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asForm(x)]));
  return v;
}

describe('encodeQuery ↔ the emulator’s PHP-style parser', () => {
  it('round-trips any parameter tree', () => {
    fc.assert(
      fc.property(fc.dictionary(key, tree, { minKeys: 1, maxKeys: 4 }), (params) => {
        expect(parseQuery(encodeQuery(params))).toEqual(asForm(params));
      }),
      { numRuns: 300 },
    );
  });
});
