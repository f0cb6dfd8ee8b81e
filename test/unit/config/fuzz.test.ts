// A bounded fuzz test of the config loader (issue 9): a few thousand configs mutated from a valid
// one by a seeded PRNG — values, keys, types and YAML syntax, with the values known to have broken
// netgwm — each either loads or is refused with a ConfigError whose every line is
// `FILE: key.path: …` or `FILE: line N, column M: …`. Never another exception, never a hang.
// Deterministic: the same seed gives the same configs (FUZZ_SEED=… and FUZZ_CASES=… try others;
// FUZZ_REPORT=1 prints the counts). The timeout is a hang guard only: 2000 configs take about
// 20 s on a loaded 2-core machine (each load reads the file and the rt_tables files).
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/errors.js';
import { tempDir } from '../../support/temp-dir.js';
import { configFixture } from './fixture.js';
import { prng, type Random } from '../../../src/core/prng.js';

const CASES = Number(process.env.FUZZ_CASES ?? 2000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x6e677771);

const BASE = {
  gateways: {
    thebestone: { ip: '192.0.2.1', dev: 'eth1', priority: 1, mark: 1, table: 101 },
    notsogood: { ip: '192.0.2.5', priority: 2, mark: 2 },
    gprsbackup: { dev: 'ppp333', priority: 3, mark: 3 },
  },
  min_uptime: 900,
  check_sites: [
    '198.51.100.1',
    '203.0.113.7',
    'some.host.name',
    // Check sites with a method (issue 15): their keys and values are mutated too.
    { tcp: '203.0.113.80:443' },
    { http: 'https://check.example.net/generate_204', expect: 204, insecure: true, server: '198.51.100.53', timeout: 2, interval: 5 },
    { dns: 'example.org', server: '198.51.100.53', type: 'A' },
  ],
  check_all_gateways: false,
  mode: 'auto',
  state_dir: '/var/lib/netgwm',
  log_file: '/var/log/netgwm.log',
  log_format: 'text',
  log_level: 'info',
  hook_timeout: 30,
  check_table: 'netgwm_check',
  probe: { method: 'auto', count: 2, timeout: 1, mark: 0x4e470000, rule_pref: 1000, resolve_timeout: 1 },
  status_dir: '/run/netgwm',
  metrics_listen: '127.0.0.1:9559',
  nftables: { enabled: false, table: 'inet netgwm', mask: 0xff, verify_interval: 300 },
  conntrack: { flush: 'none' },
};

// What broke netgwm or could: object internals, path parts, control characters, loopback and
// foreign-family sites, numbers beyond timers and table ids, huge and odd values.
const NASTY_STRINGS = [
  'toString',
  'constructor',
  '__proto__',
  'valueOf',
  'hasOwnProperty',
  'prototype',
  '.',
  '..',
  '',
  ' ',
  'a/b',
  '../../etc/passwd',
  'eth0\u0000x',
  'a\nINFO route replaced to: via 192.0.2.9',
  '\u001b[31mred',
  'a\rb',
  'localhost',
  'LOCALHOST.',
  'x.localhost',
  '127.0.0.1',
  '127.255.0.1',
  '::1',
  '::',
  '::ffff:127.0.0.1',
  '2001:db8::1',
  '0.0.0.0',
  '255.255.255.255',
  '224.0.0.1',
  '99999999999',
  '4294967296',
  '0',
  '-1',
  '0x',
  '0xffffffffff',
  '0x10',
  'auto',
  'thebestone',
  'gprsbackup',
  'x'.repeat(300),
  'é'.repeat(8),
  '😀',
  '%s',
  '${HOME}',
  '$(reboot)',
  '`id`',
  '; rm -rf /',
  'inet netgwm',
  'ip x',
  'main',
  'local',
  'default',
  'unspec',
  'all',
  'old',
  'json',
  'icmp',
  '[::1]:9559',
  'http://user:pw@check.example.net/',
  'https://[::1]/',
  'ftp://check.example.net/',
  'http://check.example.net:0/',
  '[2001:db8::1]:0',
  '203.0.113.80:65536',
  'tcp',
  'http',
  'dns',
  'AAAA',
  '0.0.0.0:80',
  'localhost:0',
  '/tmp/x.prom',
  'relative/dir',
  '*',
  '&',
  '<<',
  '#',
  'yes',
  'no',
  'null',
  '~',
];
const NASTY_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  2,
  3,
  30,
  31,
  253,
  254,
  255,
  194,
  65535,
  65536,
  32765,
  2147483,
  2147484,
  3000000,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53 + 2,
  1e308,
  -1e308,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0xff,
  0x4e470000,
];
const NASTY_OTHERS: unknown[] = [
  null,
  true,
  false,
  [],
  {},
  [1],
  { a: 1 },
  ['127.0.0.1'],
  ['::1', 'localhost'],
  [[]],
  { ip: '127.0.0.1', priority: 1 },
  new Date(0),
  new Uint8Array([0, 1]),
];
const NASTY_KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'prototype',
  '',
  ' ',
  '<<',
  'a.b',
  'gateways',
  'mode',
  '\n',
  '?',
  'x'.repeat(100),
  '0',
  'ip',
  'dev',
];
const SNIPPETS = [
  '*x',
  '&x ',
  '*x\n',
  '<<: *x\n',
  '\t',
  '{',
  '}',
  '[',
  ']',
  ':',
  ': ',
  '- ',
  '"',
  "'",
  '\n',
  '#',
  '!!binary ',
  '!!python/object:os.system ',
  '%YAML 1.2\n',
  '---\n',
  '...\n',
  '\u0000',
  '\ufeff',
  '? ',
  '|',
  '>',
  '@',
  '`',
  ',',
  'a: &a [*a]\n',
  '!!int ',
  '!!str ',
  '!!map ',
  '!!seq ',
  '<<: 5\n',
  '&a',
  '*a',
  '  ',
  '\r\n',
  'k: v\n',
  '- x\n',
  '!',
  '%',
  '\\',
];
const BOMB =
  'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n';

function nastyValue(random: Random): unknown {
  const kind = random.int(10);
  if (kind < 5) return random.pick(NASTY_STRINGS);
  if (kind < 8) return random.pick(NASTY_NUMBERS);
  return structuredClone(random.pick(NASTY_OTHERS));
}

/** Every [parent, key] in the document, so a mutation can pick any place. */
function places(value: unknown, found: Array<[Record<string, unknown> | unknown[], string | number]> = []) {
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      found.push([value, index]);
      places(item, found);
    }
  } else if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      found.push([value as Record<string, unknown>, key]);
      places(item, found);
    }
  }
  return found;
}

function mutateData(data: Record<string, unknown>, random: Random): void {
  const all = places(data);
  const [parent, key] = random.pick(all);
  switch (random.int(6)) {
    case 0: // a nasty value
    case 1:
      (parent as Record<string | number, unknown>)[key] = nastyValue(random);
      break;
    case 2: // a nasty key in place of this one
      if (!Array.isArray(parent)) {
        const value = parent[key as string];
        delete parent[key as string];
        Object.defineProperty(parent, random.pick(NASTY_KEYS), { value, enumerable: true, configurable: true, writable: true });
      }
      break;
    case 3: // gone
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      break;
    case 4: // another type of the same meaning
      (parent as Record<string | number, unknown>)[key] = random.pick([
        String,
        (v: unknown) => [v],
        (v: unknown) => ({ v }),
        Number,
        Boolean,
      ])((parent as Record<string | number, unknown>)[key]);
      break;
    default: // many gateways
      data.gateways = Object.fromEntries(
        Array.from({ length: random.pick([0, 1, 63, 64, 65, 200]) }, (_, i) => [
          `g${i}`,
          { ip: `192.0.2.${(i % 250) + 1}`, priority: i + 1 },
        ]),
      );
  }
}

function mutateText(text: string, random: Random): string {
  const at = random.int(text.length + 1);
  switch (random.int(6)) {
    case 0:
    case 1:
      return text.slice(0, at) + random.pick(SNIPPETS) + text.slice(at);
    case 2:
      return text.slice(0, at) + text.slice(at + 1 + random.int(20));
    case 3: {
      const lines = text.split('\n');
      const line = random.int(lines.length);
      lines.splice(line, 0, lines[random.int(lines.length)]!);
      return lines.join('\n');
    }
    case 4: {
      const lines = text.split('\n');
      const [a, b] = [random.int(lines.length), random.int(lines.length)];
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      return lines.join('\n');
    }
    default:
      return random.pick([BOMB, '', '&x {a: 1}\n'.replace('&x', 'x0: &x'), 'q: *nowhere\n']) + text;
  }
}

function mutatedConfig(random: Random): string {
  const data = structuredClone(BASE) as Record<string, unknown>;
  const dataMutations = random.int(4);
  for (let i = 0; i < dataMutations; i++) mutateData(data, random);
  let text = stringify(data, { version: '1.1' });
  const textMutations = random.int(3);
  for (let i = 0; i < textMutations; i++) text = mutateText(text, random);
  return text;
}

// `FILE: key.path: …` (plain words, or quoted keys) or `FILE: line N, column M: …`; one line each.
const KEY = String.raw`(?:[\w.-]+|"(?:[^"\\]|\\.)*")(?:\.(?:[\w.-]+|"(?:[^"\\]|\\.)*"))*`;
const PROBLEM = new RegExp(String.raw`^FILE: (?:line \d+, column \d+|\(top level\)|${KEY}): \S[^\n\r\u0000-\u0008\u000b-\u001f]*$`);

describe('config loader fuzz', () => {
  let dir: string;
  let root: string;
  let bin: string;
  beforeAll(async () => {
    dir = await tempDir('fuzz');
    root = (await configFixture('255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n101\tisp1\n')).dir;
    // nft and conntrack "installed" on every machine alike: the loader only looks them up.
    bin = join(dir, 'bin');
    await mkdir(bin);
    for (const command of ['nft', 'conntrack']) {
      await writeFile(join(bin, command), '#!/bin/sh\nexit 1\n');
      await chmod(join(bin, command), 0o755);
    }
  });

  it(`${CASES} mutated configs: each loads or is a ConfigError naming the file and a key or line`, { timeout: 300_000 }, async () => {
    const random = prng(SEED);
    const outcomes = { loaded: 0, refused: 0 };
    const wrong: string[] = [];
    for (let n = 0; n < CASES; n++) {
      const text = mutatedConfig(random);
      const file = join(dir, `fuzz-${n % 16}.yml`);
      await writeFile(file, text);
      try {
        await loadConfig(file, { rtTablesRoot: join(root, 'root'), searchPath: bin });
        outcomes.loaded++;
      } catch (error) {
        const problems = error instanceof ConfigError ? error.problems.map((line) => line.split(`${file}: `).join('FILE: ')) : undefined;
        const bad =
          problems === undefined
            ? [`${(error as Error)?.name}: ${(error as Error)?.message}`]
            : problems.filter((line) => !PROBLEM.test(line));
        if (problems !== undefined && problems.length > 0 && bad.length === 0) outcomes.refused++;
        else wrong.push(`case ${n} (seed ${SEED}): ${JSON.stringify(bad.length > 0 ? bad : problems)}\n${text}`);
        if (problems === undefined) break; // a crash: the first one says enough
      }
    }
    if (process.env.FUZZ_REPORT)
      process.stdout.write(`fuzz: ${CASES} configs, ${outcomes.loaded} loaded, ${outcomes.refused} refused, ${wrong.length} wrong\n`);
    expect(wrong.slice(0, 5)).toEqual([]);
    // The mutations must reach both outcomes, or the test proves little.
    expect(outcomes.loaded).toBeGreaterThan(CASES / 20);
    expect(outcomes.refused).toBeGreaterThan(CASES / 2);
  });
});
