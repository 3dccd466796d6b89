import { createMemoryStore } from './memoryStore.js';
import { createMemorySessionStore } from './sessionStore.js';
import { tableStoreSuite } from './tableStore.suite.js';

tableStoreSuite('memory store', (options) =>
  Promise.resolve({ table: createMemoryStore(options), sessions: createMemorySessionStore() }),
);
