// ESLint for Ben: the recommended rules of ESLint and typescript-eslint (syntax only, no type
// information, so it stays fast enough for `npm test`); formatting is prettier's.
import js from '@eslint/js'
import globals from 'globals'
import tseslint from 'typescript-eslint'

/** A string that starts an SQL statement Ben writes (a statement a user types, as in `ben query "SELECT …"` help, starts elsewhere). */
const SQL = String.raw`/^\s*(SELECT|INSERT\s+INTO|ALTER\s+TABLE|CREATE\s+TABLE|DROP\s+TABLE|OPTIMIZE\s+TABLE|TRUNCATE\s+TABLE|WITH\s+\w+\s+AS)\b/`

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
  {
    // Rooms (issue 12.5): SQL over the projection tables is written in projections/ only; the
    // rest of Ben calls its query helpers (projections/index.ts). Tests and benches may query.
    files: ['**/*.ts'],
    ignores: ['projections/**', 'test/**', 'bench/**', '**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: `Literal[value=${SQL}], TemplateElement[value.raw=${SQL}]`,
          message: 'SQL over projection tables belongs in projections/: add a query helper there and call it.',
        },
      ],
    },
  },
)
