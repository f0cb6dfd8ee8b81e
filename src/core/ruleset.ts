// The nft file netgwm loads: its one table, rendered whole from the config and the active gateway.
// Pure text in, text out; `nft -c` checks it and `nft -f` loads it as one transaction.
//
// What the table does (mwan3's CONNMARK scheme, under a mask so other users of the mark keep
// their bits):
// - a new connection arriving on an uplink gets that uplink's mark, so replies leave the same way;
// - a new connection from the LAN or the router itself gets the ACTIVE gateway's mark;
// - every packet takes its connection's mark (`meta mark` from `ct mark`), which the
//   `ip rule fwmark` entries route; so a switch moves only new connections.

export interface RulesetInput {
  /** `FAMILY NAME`, e.g. `inet netgwm`. */
  table: string;
  mask: number;
  markForwarded: boolean;
  markLocal: boolean;
  /** Gateways without a mark are left out. */
  gateways: Array<{ name: string; mark?: number; dev?: string }>;
  /** Name of the gateway the default route uses; new connections get its mark. */
  active?: string;
  /** A table netgwm loaded under another name before: removed in the same transaction. */
  previousTable?: string;
}

const FULL_MASK = 0xffffffff;

export const hex = (value: number) => `0x${(value >>> 0).toString(16)}`;

export function renderRuleset(input: RulesetInput): string {
  const { table, mask } = input;
  const marked = input.gateways.filter((gateway): gateway is { name: string; mark: number; dev?: string } => gateway.mark !== undefined);
  const active = marked.find((gateway) => gateway.name === input.active);
  // A connection that already has one of our marks (it arrived on an uplink) keeps it.
  const activeRule = (wanted: boolean, match: string, what: string): string[] =>
    active && wanted
      ? [
          `ct state new ${markTest('ct mark', 0, mask)} ${match}${setUnderMask('ct mark', active.mark, mask)} comment "active ${active.name}: new ${what} connections"`,
        ]
      : [];

  const prerouting = [
    ...marked
      .filter((gateway) => gateway.dev !== undefined)
      .map(
        (gateway) =>
          `ct state new iifname "${gateway.dev}" ${setUnderMask('ct mark', gateway.mark, mask)} comment "${gateway.name}: connections arriving on ${gateway.dev}"`,
      ),
    // Traffic to the router itself is not forwarded: its replies follow the routes, not a mark.
    ...activeRule(input.markForwarded, 'fib daddr type != local ', 'forwarded'),
    ...restoreRules(marked, mask),
  ];
  const output = [
    // Netgwm's probes carry probe.mark and must keep it to reach the check table; any other
    // socket that marks its own packets has chosen its route too.
    'meta mark != 0x0 return comment "packets marked by their socket (netgwm probes) keep the mark"',
    ...activeRule(input.markLocal, '', 'local'),
    ...restoreRules(marked, mask),
  ];
  return [
    `# netgwm's own table, rendered from its config (\`netgwm nft --print\`); changes made here are undone.`,
    ...recreate(input.previousTable !== undefined && input.previousTable !== table ? [input.previousTable] : [], table),
    `table ${table} {`,
    '\tcomment "managed by netgwm"',
    ...chain('prerouting', 'type filter hook prerouting priority mangle; policy accept;', prerouting),
    '',
    ...chain('output', 'type route hook output priority mangle; policy accept;', output),
    '}',
    '',
  ].join('\n');
}

/** The file that removes netgwm's table (and a previous one), whether they exist or not. */
export function renderRemoval(table: string, previousTable?: string): string {
  const tables = [...(previousTable !== undefined && previousTable !== table ? [previousTable] : []), table];
  return [
    '# nftables.enabled is false: netgwm removes its table.',
    ...tables.flatMap((name) => [`table ${name}`, `delete table ${name}`]),
    '',
  ].join('\n');
}

// `table X` creates the table if it is missing, so the `delete` that follows never fails; the
// whole file is one transaction, so nothing ever sees the table empty.
function recreate(stale: string[], table: string): string[] {
  return [...stale, table].flatMap((name) => [`table ${name}`, `delete table ${name}`]);
}

function chain(name: string, head: string, rules: string[]): string[] {
  return [`\tchain ${name} {`, `\t\t${head}`, ...rules.map((rule) => `\t\t${rule}`), '\t}'];
}

function restoreRules(marked: Array<{ name: string; mark: number }>, mask: number): string[] {
  return marked.map(
    (gateway) =>
      `${markTest('ct mark', gateway.mark, mask)} ${setUnderMask('meta mark', gateway.mark, mask)} comment "${gateway.name}: packets follow their connection"`,
  );
}

function markTest(field: string, value: number, mask: number): string {
  return mask === FULL_MASK ? `${field} ${hex(value)}` : `${field} and ${hex(mask)} == ${hex(value)}`;
}

/** Sets the bits under `mask` to `mark` and keeps the others. */
function setUnderMask(field: string, mark: number, mask: number): string {
  return mask === FULL_MASK ? `${field} set ${hex(mark)}` : `${field} set ${field} and ${hex(~mask)} or ${hex(mark)}`;
}
