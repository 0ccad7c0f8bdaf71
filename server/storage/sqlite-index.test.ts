import { describe, it } from 'vitest';
import { testServer } from '../test-support/dicomweb-helpers.js';
import { exerciseIndex } from '../test-support/index-behaviour.js';

describe('SQLite index (embedded default)', () => {
  it('matches, counts, pages, retrieves and deletes like every index backend', async () => {
    const { app } = await testServer();
    await exerciseIndex(app);
    await app.close();
  });
});
