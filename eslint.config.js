// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { roomRules } from './rooms.mjs';

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'dist/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-confusing-void-expression': 'off',
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
    },
  },
  // The architecture's arrows (rooms.mjs): a room imports only the rooms it may.
  ...roomRules(),
  {
    // The emulator is the judge: it must not share code with the client it judges. Its own tests
    // import it by package name, so no path under emulator/ ever reaches for a `src/` folder.
    files: ['emulator/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\.\\./)+src(/|$)', message: 'emulator/ imports nothing from src/' }] },
      ],
    },
  },
  {
    // The simulator plays a PBX: it speaks the bridge's public PBX API and nothing else of it.
    files: ['simulator/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+src/(?!pbx/types\\.ts$|pbx/webhook/index\\.ts$)',
              message:
                'simulator/ uses only the public PBX API of src/ (src/pbx/types.ts, src/pbx/webhook/index.ts)',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'emulator/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
    },
  },
);
