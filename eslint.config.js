// ESLint enforces the architecture of DEVELOPERS.md by machine:
// - dependency direction: shared ← main, renderer, server; nothing across main/renderer/server;
// - environments: shared/ uses no Node, DOM, Electron or React; renderer/ no Node; only renderer/viewer-engine/ imports
//   @cornerstonejs/*; only main/ imports electron;
// - no import cycles, no default exports, no `any`.
import { builtinModules } from 'node:module';
import importX from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import tseslint from 'typescript-eslint';

// Bare built-in names are matched exactly (`paths`): as gitignore-style patterns, `domain` or `events` would also
// match our own folders of that name.
const nodeBuiltinPaths = builtinModules
  .filter((name) => !name.startsWith('_'))
  .map((name) => ({ name, message: 'Node built-ins are not available here.' }));
const restrict = (groups, message) => ({ group: groups, message });
const cornerstone = restrict(['@cornerstonejs/*'], 'Only renderer/viewer-engine/ may import Cornerstone3D.');
const electron = restrict(['electron', 'electron/*'], 'Only main/ may import electron.');
const nodeOnly = restrict(['node:*'], 'Node built-ins are not available here.');
const uiOnly = restrict(['react', 'react-dom', 'react-dom/*', 'react/*'], 'React belongs to renderer/.');
const serverSide = restrict(['pino', 'pino/*', 'ws', 'fastify', 'fastify/*', 'better-sqlite3', 'pg'], 'Server-side packages are not available here.');

export default tseslint.config(
  { ignores: ['app/**', 'release/**', 'node_modules/**', 'test-results/**', 'coverage/**'] },
  ...tseslint.configs.strict,
  {
    files: ['**/*.{ts,tsx,js,mjs}'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['tsconfig.test.json', '*/tsconfig.json'], noWarnOnMultipleProjects: true })],
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-default-export': 'error',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-self-import': 'error',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './shared', from: ['./main', './renderer', './server', './e2e'], message: 'shared/ depends on nothing else in the repo.' },
            { target: './renderer', from: ['./main', './server'], message: 'renderer/ reaches main only through the IPC client.' },
            { target: './main', from: ['./renderer', './server'], message: 'main/ does not import renderer/ or server/ (spawn the built server instead).' },
            { target: './server', from: ['./main', './renderer'], message: 'server/ does not import the workstation.' },
            { target: ['./main', './renderer', './server', './shared'], from: '../shared', message: 'Never import the reference material in ../shared.' },
          ],
        },
      ],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    files: ['shared/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltinPaths, patterns: [nodeOnly, electron, uiOnly, serverSide, cornerstone] }],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'window', 'document', 'require', '__dirname', '__filename', 'global', 'navigator', 'localStorage'],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    ignores: ['renderer/viewer-engine/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltinPaths, patterns: [nodeOnly, electron, serverSide, cornerstone] }],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', '__filename', 'global'],
    },
  },
  {
    files: ['renderer/viewer-engine/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltinPaths, patterns: [nodeOnly, electron, serverSide] }],
      'no-restricted-globals': ['error', 'process', 'Buffer', 'require', '__dirname', '__filename', 'global'],
    },
  },
  {
    files: ['main/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [uiOnly, cornerstone] }] },
  },
  {
    files: ['server/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [uiOnly, cornerstone, electron] }] },
  },
  {
    files: ['scripts/**/*.mjs', 'e2e/**/*.ts', '**/*.test.{ts,tsx}'],
    rules: { 'no-console': 'off' },
  },
  {
    // Tool configuration files must default-export by their tools' convention.
    files: ['eslint.config.js', 'vite.config.ts', 'vitest.config.ts', 'e2e/vitest.config.ts'],
    rules: { 'import-x/no-default-export': 'off' },
  },
);
