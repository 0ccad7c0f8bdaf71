import { defineConfig } from 'vitest/config';

// Unit tests sit next to the code. The browser e2e suite has its own config (e2e/vitest.config.ts).
export default defineConfig({
  test: {
    include: ['{shared,main,renderer,server,scripts}/**/*.test.{ts,tsx}'],
    environment: 'node',
    testTimeout: 20_000,
    pool: 'forks',
  },
});
