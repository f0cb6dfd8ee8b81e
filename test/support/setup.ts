// Runs before every test file (vitest setupFiles).
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { removeTempDirs, tempDir } from './temp-dir.js';

// The code cache of the netgwm processes the tests start (src/boot.ts): the test file's own, not
// the host's /var/cache/netgwm.
process.env.NETGWM_CACHE_DIR ??= join(await tempDir('cache'), 'v8');

afterAll(removeTempDirs);
