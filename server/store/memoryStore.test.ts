import { createMemoryStore } from './memoryStore.js';
import { createMemorySessionStore } from './sessionStore.js';
import { tableStoreSuite } from '../../test-support/tableStoreSuite.js';

tableStoreSuite('memory store', (options) =>
  Promise.resolve({ table: createMemoryStore(options), sessions: createMemorySessionStore() }),
);
