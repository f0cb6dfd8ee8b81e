import { describe, expect, it } from 'vitest';
import { oneAtATime } from '../../src/in-turn.js';

describe('oneAtATime: the two families never run their hooks at once', () => {
  it('runs each work after the one before, even when that one fails', async () => {
    const inTurn = oneAtATime();
    const seen: string[] = [];
    const work =
      (name: string, fail = false) =>
      async () => {
        seen.push(`${name} start`);
        await new Promise((done) => setImmediate(done));
        seen.push(`${name} end`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([inTurn(work('ipv4', true)), inTurn(work('ipv6'))]);
    expect(seen).toEqual(['ipv4 start', 'ipv4 end', 'ipv6 start', 'ipv6 end']);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled']);
  });
});
