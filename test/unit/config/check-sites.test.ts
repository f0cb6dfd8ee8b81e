import { beforeAll, describe, expect, it } from 'vitest';
import { methodSiteEntry, pingedSites } from '../../../src/config/check-sites.js';
import { familyView } from '../../../src/config/families.js';
import { configFixture, type ConfigFixture } from './fixture.js';
import { generate204Site } from '../../support/sites.js';

let fixture: ConfigFixture;

beforeAll(async () => {
  fixture = await configFixture();
});

const V4 = 'isp1: {ip: 192.0.2.1, priority: 1}';
const DUAL = 'isp1: {ip: 192.0.2.1, ip6: 2001:db8::1, priority: 1}';
const config = (sites: string, extra = '', gateway = V4) => `gateways:\n  ${gateway}\ncheck_sites:\n${sites}${extra}`;

describe('check sites with a method: compiled', () => {
  it.each([
    [
      'tcp to an IPv4 address: connect time judged, defaults of the pace',
      '  - {tcp: 203.0.113.10:443}\n',
      { method: 'tcp', key: 'tcp:203.0.113.10:443', host: '203.0.113.10', port: 443, intervalMs: 5000, timeoutMs: 2000 },
    ],
    [
      'tcp to an IPv6 address in brackets, own pace',
      '  - {tcp: "[2001:db8:ff::10]:22", interval: 10, timeout: 1.5}\n',
      { method: 'tcp', key: 'tcp:[2001:db8:ff::10]:22', host: '2001:db8:ff::10', port: 22, intervalMs: 10_000, timeoutMs: 1500 },
    ],
    [
      'tcp to a host name',
      '  - {tcp: check.example.net:80}\n',
      { method: 'tcp', key: 'tcp:check.example.net:80', host: 'check.example.net', port: 80, intervalMs: 5000, timeoutMs: 2000 },
    ],
    [
      'http with expect and a DNS server for its host',
      '  - {http: "http://check.example.net/generate_204", expect: 204, server: 198.51.100.53}\n',
      generate204Site({ server: '198.51.100.53' }),
    ],
    [
      'https to an address on its own port, insecure; the key is the URL as written',
      '  - {http: "https://[2001:db8:ff::443]:8443/health", insecure: true}\n',
      {
        method: 'http',
        key: 'https://[2001:db8:ff::443]:8443/health',
        url: 'https://[2001:db8:ff::443]:8443/health',
        host: '2001:db8:ff::443',
        port: 8443,
        tls: true,
        insecure: true,
        intervalMs: 5000,
        timeoutMs: 2000,
      },
    ],
    [
      'dns, type A by default',
      '  - {dns: example.org, server: 198.51.100.53}\n',
      {
        method: 'dns',
        key: 'dns:example.org@198.51.100.53/A',
        name: 'example.org',
        server: '198.51.100.53',
        type: 'A',
        intervalMs: 5000,
        timeoutMs: 2000,
      },
    ],
    [
      'dns of another type, written in lower case',
      '  - {dns: _dmarc.example.org, server: "2001:db8:ff::53", type: txt}\n',
      {
        method: 'dns',
        key: 'dns:_dmarc.example.org@2001:db8:ff::53/TXT',
        name: '_dmarc.example.org',
        server: '2001:db8:ff::53',
        type: 'TXT',
        intervalMs: 5000,
        timeoutMs: 2000,
      },
    ],
  ])('%s', async (_case, sites, site) => {
    const { config: loaded } = await fixture.load(config(`  - check.example.net\n${sites}`, '', DUAL));
    // check_sites: every site's key, in file order; the pinged ones are the plain entries.
    expect(loaded.check_sites).toEqual(['check.example.net', site.key]);
    expect(pingedSites(loaded.check_sites)).toEqual(['check.example.net']);
    expect(loaded.method_sites).toEqual([site]);
  });

  it('a slower probe.interval and timeout are the defaults when longer than 5 s and 2 s', async () => {
    const { config: loaded } = await fixture.load(config('  - {tcp: 203.0.113.10:443}\n', 'probe: {interval: 8, timeout: 3}\n'));
    expect(loaded.method_sites[0]).toMatchObject({ intervalMs: 8000, timeoutMs: 3000 });
  });

  it('NetGWM configs are unchanged: plain strings stay pinged sites, nothing has a method', async () => {
    const { config: loaded } = await fixture.load(config('  - 198.51.100.1\n  - check.example.net\n'));
    expect(loaded.check_sites).toEqual(['198.51.100.1', 'check.example.net']);
    expect(loaded.method_sites).toEqual([]);
  });

  it('each family view has the method sites it can probe', async () => {
    const { config: loaded } = await fixture.load(
      config(
        '  - {tcp: 203.0.113.10:443}\n  - {tcp: "[2001:db8:ff::10]:443"}\n  - {http: "http://check.example.net/"}\n  - {http: "http://v6.example.net/", server: "2001:db8:ff::53"}\n  - {dns: example.org, server: 198.51.100.53}\n',
        '',
        DUAL,
      ),
    );
    const keys = (family: 4 | 6) => familyView(loaded, family).method_sites.map((site) => site.key);
    expect(keys(4)).toEqual(['tcp:203.0.113.10:443', 'http://check.example.net/', 'dns:example.org@198.51.100.53/A']);
    expect(keys(6)).toEqual(['tcp:[2001:db8:ff::10]:443', 'http://check.example.net/', 'http://v6.example.net/']);
    // Each view's check_sites are the keys of what it probes, in file order.
    expect(familyView(loaded, 6).check_sites).toEqual(['tcp:[2001:db8:ff::10]:443', 'http://check.example.net/', 'http://v6.example.net/']);
  });

  it('check-config writes each method site back as an entry (with its pace) that loads to the same site', async () => {
    const sites =
      '  - {tcp: "[2001:db8:ff::10]:443", timeout: 1}\n  - {http: "https://check.example.net/x", expect: 204, insecure: true, server: 198.51.100.53}\n  - {dns: example.org, server: 198.51.100.53, type: mx}\n';
    const { config: loaded } = await fixture.load(config(`  - check.example.net\n${sites}`, '', DUAL));
    const written = loaded.method_sites.map((site) => JSON.stringify(methodSiteEntry(site))).join('\n  - ');
    const { config: again } = await fixture.load(config(`  - check.example.net\n  - ${written}\n`, '', DUAL));
    expect(again.method_sites).toEqual(loaded.method_sites);
  });

  it('min_sites counts method sites', async () => {
    const { config: loaded } = await fixture.load(config('  - 198.51.100.1\n  - {tcp: 203.0.113.10:443}\n', 'probe: {min_sites: 2}\n'));
    expect(loaded.probe.min_sites).toBe(2);
  });
});

describe('check sites with a method: bad input is refused at load time with its key', () => {
  it.each([
    [
      'two methods in one entry',
      '  - {tcp: 203.0.113.10:443, http: "http://a.example/"}\n',
      [
        'FILE: check_sites.0: expected one method key, tcp, http or dns (e.g. {tcp: 203.0.113.10:443}), got tcp and http; write each method as an entry of its own',
      ],
    ],
    [
      'no method',
      '  - {host: 203.0.113.10}\n',
      [
        'FILE: check_sites.0: expected one method key, tcp, http or dns (e.g. {tcp: 203.0.113.10:443}), got none (keys: host); write each method as an entry of its own',
      ],
    ],
    [
      'an unknown key',
      '  - {tcp: 203.0.113.10:443, expect: 200}\n',
      ['FILE: check_sites.0.expect: unknown key for a tcp check; expected tcp, timeout, interval'],
    ],
    [
      'tcp without a port',
      '  - {tcp: 203.0.113.10}\n',
      [
        'FILE: check_sites.0.tcp: expected a port after the host, got "203.0.113.10"; expected HOST:PORT (e.g. 203.0.113.10:443, "[2001:db8::10]:443" or check.example.net:80)',
      ],
    ],
    [
      'tcp port 0',
      '  - {tcp: 203.0.113.10:0}\n',
      [
        'FILE: check_sites.0.tcp: expected a port from 1 to 65535, got "203.0.113.10:0"; expected HOST:PORT (e.g. 203.0.113.10:443, "[2001:db8::10]:443" or check.example.net:80)',
      ],
    ],
    [
      'tcp port beyond 65535',
      '  - {tcp: check.example.net:65536}\n',
      [
        'FILE: check_sites.0.tcp: expected a port from 1 to 65535, got "check.example.net:65536"; expected HOST:PORT (e.g. 203.0.113.10:443, "[2001:db8::10]:443" or check.example.net:80)',
      ],
    ],
    [
      'tcp to an IPv6 address without brackets',
      '  - {tcp: "2001:db8::10:443"}\n',
      [
        'FILE: check_sites.0.tcp: expected an IPv6 address in brackets, e.g. "[2001:db8::10]:443" (quoted: YAML reads [ as a list), got "2001:db8::10:443"',
      ],
    ],
    [
      'tcp to loopback',
      '  - {tcp: 127.0.0.1:80}\n',
      [
        'FILE: check_sites.0.tcp: expected a host beyond the uplinks, not a loopback address (the router answers it itself, so every gateway would look up), got "127.0.0.1:80"; expected HOST:PORT (e.g. 203.0.113.10:443, "[2001:db8::10]:443" or check.example.net:80)',
      ],
    ],
    [
      'tcp as a number',
      '  - {tcp: 443}\n',
      ['FILE: check_sites.0.tcp: expected HOST:PORT (e.g. 203.0.113.10:443, "[2001:db8::10]:443" or check.example.net:80), got 443'],
    ],
    [
      'an http URL that does not parse',
      '  - {http: "http://"}\n',
      ['FILE: check_sites.0.http: expected an http:// or https:// URL (e.g. "http://check.example.net/generate_204"), got "http://"'],
    ],
    [
      'another scheme',
      '  - {http: "ftp://check.example.net/"}\n',
      ['FILE: check_sites.0.http: expected an http:// or https:// URL, got "ftp://check.example.net/"'],
    ],
    [
      'credentials in the URL',
      '  - {http: "https://user:secret@check.example.net/"}\n',
      [
        'FILE: check_sites.0.http: expected a URL without a user name or password (they would be sent in clear to every uplink), got "https://user:secret@check.example.net/"',
      ],
    ],
    [
      'an http port 0',
      '  - {http: "http://check.example.net:0/"}\n',
      ['FILE: check_sites.0.http: expected a port from 1 to 65535, got "http://check.example.net:0/"'],
    ],
    [
      'an http port beyond 65535',
      '  - {http: "http://check.example.net:70000/"}\n',
      [
        'FILE: check_sites.0.http: expected an http:// or https:// URL (e.g. "http://check.example.net/generate_204"), got "http://check.example.net:70000/"',
      ],
    ],
    [
      'a URL with a space',
      '  - {http: "http://check.example.net/a b"}\n',
      [
        'FILE: check_sites.0.http: expected an http:// or https:// URL (e.g. "http://check.example.net/generate_204") without spaces or control characters, got "http://check.example.net/a b"',
      ],
    ],
    [
      'an http URL to localhost',
      '  - {http: "http://localhost/"}\n',
      [
        'FILE: check_sites.0.http: expected a host beyond the uplinks, not localhost (the router answers it itself, so every gateway would look up), got "http://localhost/"',
      ],
    ],
    [
      'expect a redirect',
      '  - {http: "http://check.example.net/", expect: 302}\n',
      [
        'FILE: check_sites.0.expect: expected an HTTP status from 200 to 599, not a redirect (3xx: always a failure, as a captive portal answers), got 302',
      ],
    ],
    [
      'insecure on http',
      '  - {http: "http://check.example.net/", insecure: true}\n',
      ['FILE: check_sites.0.insecure: applies to https:// URLs only (an http:// one has no certificate); remove it'],
    ],
    [
      'an http server that is a name',
      '  - {http: "http://check.example.net/", server: dns.example.net}\n',
      [
        'FILE: check_sites.0.server: expected the IP address of a DNS server (a name would need a DNS server itself), got "dns.example.net"',
      ],
    ],
    [
      'a server for a URL whose host is an address',
      '  - {http: "http://203.0.113.10/", server: 198.51.100.53}\n',
      ["FILE: check_sites.0.server: the URL's host is an address already, so there is no name to look up; remove the server"],
    ],
    [
      'dns without a server',
      '  - {dns: example.org}\n',
      [
        'FILE: check_sites.0.server: missing; expected the IP address of the DNS server to ask through each gateway (e.g. server: 198.51.100.53)',
      ],
    ],
    [
      'dns with a loopback server',
      '  - {dns: example.org, server: 127.0.0.53}\n',
      [
        'FILE: check_sites.0.server: expected a DNS server beyond the uplinks, not a loopback address (the router answers it itself, so every gateway would look up), got "127.0.0.53"',
      ],
    ],
    [
      'dns of an unknown type',
      '  - {dns: example.org, server: 198.51.100.53, type: ANY}\n',
      ['FILE: check_sites.0.type: expected one of A, AAAA, CNAME, MX, NS, SOA, TXT, got "ANY"'],
    ],
    [
      'dns of a bad name',
      '  - {dns: "exa mple.org", server: 198.51.100.53}\n',
      ['FILE: check_sites.0.dns: expected the name to look up (e.g. example.org) without spaces or control characters, got "exa mple.org"'],
    ],
    [
      'an interval too short and a timeout of 0',
      '  - {tcp: 203.0.113.10:443, interval: 0.1, timeout: 0}\n',
      [
        'FILE: check_sites.0.interval: expected seconds from 0.5 to 3600 for this tcp check, got 0.1',
        'FILE: check_sites.0.timeout: expected seconds from above 0 to 30 for this tcp check, got 0',
      ],
    ],
    [
      'the same site twice',
      '  - {tcp: 203.0.113.10:443}\n  - 198.51.100.1\n  - {tcp: 203.0.113.10:443, interval: 9}\n',
      ['FILE: check_sites.2: the same check site as check_sites.0 (tcp:203.0.113.10:443); remove one of them'],
    ],
    [
      'a list as an entry',
      '  - [203.0.113.10]\n',
      ['FILE: check_sites.0: expected an IP address, a host name, or a check with a method such as {tcp: 203.0.113.10:443}'],
    ],
    [
      'min_sites above every site, methods counted',
      '  - 198.51.100.1\n  - {tcp: 203.0.113.10:443}\nprobe: {min_sites: 3}\n',
      ['FILE: probe.min_sites: expected at most the number of check_sites (2), got 3; no round could ever be good'],
    ],
  ])('%s', async (_case, sites, expected) => {
    expect(await fixture.problems(config(sites))).toEqual(expected);
  });

  it('a family no method site can be probed over', async () => {
    expect(
      await fixture.problems(
        `gateways:\n  isp1: {ip6: 2001:db8::1, priority: 1}\ncheck_sites:\n  - {dns: example.org, server: 198.51.100.53}\n`,
      ),
    ).toEqual([
      'FILE: check_sites: no check site can be probed over IPv6, which gateways isp1 use; add an IPv6 address or a host name (AAAA record)',
    ]);
  });
});
