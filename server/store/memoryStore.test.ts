import { createMemoryStore } from './memoryStore.js';
import { tableStoreSuite } from './tableStore.suite.js';

tableStoreSuite('memory store', createMemoryStore);
