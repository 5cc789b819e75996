// ESLint for Ben: the recommended rules of ESLint and typescript-eslint (syntax only, no type
// information, so it stays fast enough for `npm test`); formatting is prettier's.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Ben matches control characters on purpose: refusing them in names and logs is a security rule.
      'no-control-regex': 'off',
    },
  },
  { files: ['console/web/**/*.js'], languageOptions: { globals: { ...globals.browser } } },
)
