/** Parking of AMI events on SQLite (the suite: parking-suite.ts). */
import { SqliteStore } from '../../../src/store/index.ts';
import { parkingSuite } from './parking-suite.ts';

parkingSuite('SQLite', () => SqliteStore.open({ path: ':memory:', synchronous: 'normal' }));
