// Lint that keeps the rooms' import direction (eslint/rooms.mjs), workflow code deterministic (no
// Node built-ins, no SDKs, activities as types only) and promises handled everywhere.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import rooms from './eslint/rooms.mjs';

const builtins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['lib/**', 'node_modules/**', 'coverage/**', '.data/**', 'eslint.config.mjs', 'eslint/**', 'jest.config.js', 'jest.bench.config.js', 'scripts/*.js'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['**/*.ts'],
    ignores: ['test/**', 'bench/**'],
    plugins: { rooms },
    rules: { 'rooms/direction': 'error', 'rooms/no-cycle': 'error' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: builtins.map((name) => ({ name, message: 'Workflow code is deterministic: no Node built-ins.' })),
          patterns: [
            { group: ['**/activities', '**/activities/*'], message: 'Import activities as types only.', allowTypeImports: true },
            { group: ['@aws-sdk/*', '@google-cloud/*', '@azure/*', 'ssh2', 'pg', '@electric-sql/*', '@temporalio/worker', '@temporalio/client', '@temporalio/activity'], message: 'No I/O libraries in workflow code.', allowTypeImports: true },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' }, { name: 'setInterval', message: 'Use sleep() in a loop.' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Math.random is replaced in the sandbox; pass randomness in or use uuid4().' }],
    },
  },
);
