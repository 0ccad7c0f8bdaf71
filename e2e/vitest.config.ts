import { defineConfig } from 'vitest/config';

// Browser end-to-end tests against the production build in app/ (run `npm run build` first; `npm test` does).
export default defineConfig({
  test: {
    root: '.',
    include: ['e2e/**/*.e2e.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 90_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
