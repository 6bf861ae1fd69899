// ESLint flat config for `npm run lint`: typescript-eslint's recommended rules (not type-checked) over src/,
// test/, examples/, bench/ and scripts/, with formatting left to prettier (eslint-config-prettier last).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['node_modules/', 'dist/', 'coverage/', 'out/', '**/out/', '**/generated/', '**/*.generated.ts', '.whl/'],
  },
  {
    files: ['**/*.{ts,mts,cts,js,mjs,cjs}'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      // the library runs in Node and in browsers; tests, scripts and the examples' server run in Node
      globals: { ...globals.node, ...globals.browser },
    },
    rules: {
      // code from strings only where it is meant to be (src/backend/host.ts, below)
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          args: 'after-used',
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
    },
  },
  {
    // .cjs config files (.dependency-cruiser.cjs) are CommonJS
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    // fixture cases are JSON written by scripts/make_fixtures.py: the tests read them untyped
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // the host backend compiles kernel sources to functions on purpose (new Function)
    files: ['src/backend/host.ts'],
    rules: { 'no-new-func': 'off' },
  },
  prettier,
);
