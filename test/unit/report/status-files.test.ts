import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { statusDocument } from '../../../src/report/status-document.js';
import { statusFileText, writeStatusFiles } from '../../../src/report/status-files.js';
import { input, NOW } from './fixtures.js';
import { tempDir } from '../../support/temp-dir.js';

describe('NetGWM status files', () => {
  const doc = statusDocument(input);

  it("NetGWM's format: up:<first answering site>:<avg rtt> or down", () => {
    expect(statusFileText(doc.gateways[0]!)).toBe('up:203.0.113.10:0.310');
    expect(statusFileText(doc.gateways[1]!)).toBe('up:203.0.113.20:12.500'); // the first site did not answer
    expect(statusFileText({ ...doc.gateways[0]!, state: 'down' })).toBe('down');
  });

  it('writes only the gateways the last cycle probed, and leaves an unchanged file alone', async () => {
    const dir = join(await tempDir('status'), 'run', 'netgwm');
    await writeStatusFiles(dir, doc);
    expect(await readdir(dir)).toEqual(['isp1']);
    expect(await readFile(join(dir, 'isp1'), 'utf8')).toBe('up:203.0.113.10:0.310');
    const before = await stat(join(dir, 'isp1'));
    await writeStatusFiles(dir, statusDocument({ ...input, now: NOW + 1000 }));
    expect((await stat(join(dir, 'isp1'))).ino).toBe(before.ino); // not replaced by a rename
  });
});
