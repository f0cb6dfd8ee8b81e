// The status document as `netgwm status` and the metrics endpoint see it: from the config, the
// state file and the mode file, at the time asked.
import { dirname, join, resolve } from 'node:path';
import type * as z from 'zod';
import { readConfigLeniently, type Config } from '../config/load.js';
import { familyView } from '../config/families.js';
import type { FamilyStates } from '../cycle.js';
import { configSchema } from '../config/schema.js';
import { type LoadedState, loadState, readEffectiveMode, STATE_FILE, STATE_FILE_IPV6 } from '../state/store.js';
import { readRole } from '../cluster/role-file.js';
import { statusDocument, type StatusDocument, type StatusGateway, type StatusInput } from './status-document.js';

/** What status needs of a config: all of it when it loads, what can be read of it when not. */
type StatusConfig = StatusInput['config'] & Pick<Config, 'state_dir' | 'mode'>;

export async function readStatus(
  config: StatusConfig,
  now: number,
  configProblems: string[] = [],
  known?: LoadedState,
): Promise<StatusDocument> {
  const compiled = isCompiled(config) ? config : undefined;
  const roleFile = compiled?.cluster?.role_file;
  const [loaded, mode, loaded6, mode6, role] = await Promise.all([
    known ?? loadState(config.state_dir),
    readEffectiveMode(compiled ? familyView(compiled, 4) : config),
    compiled?.families.includes(6) ? loadState(config.state_dir, 6) : undefined,
    compiled?.families.includes(6) ? readEffectiveMode(familyView(compiled, 6)) : undefined,
    roleFile === undefined ? undefined : readRole(roleFile),
  ]);
  return statusDocument({
    config: compiled ? familyView(compiled, 4) : config,
    ...(compiled && loaded6 && mode6 && { ipv6: ipv6Input(compiled, loaded6, mode6.mode) }),
    configProblems,
    state: loaded.state,
    stateFile: join(config.state_dir, STATE_FILE),
    hasState: loaded.problem === undefined && loaded.state.lastCycleAt !== undefined,
    stateProblem: loaded.problem,
    mode: mode.mode,
    modeSource: mode.source,
    modeFile: mode.file,
    ...(roleFile !== undefined && { cluster: { roleFile, role } }),
    now,
  });
}

const isCompiled = (config: StatusConfig): config is StatusConfig & Config => 'families' in config;

function ipv6Input(config: Config, loaded: LoadedState, mode: string): NonNullable<StatusInput['ipv6']> {
  return {
    state: loaded.state,
    stateFile: join(config.state_dir, STATE_FILE_IPV6),
    hasState: loaded.problem === undefined && loaded.state.lastCycleAt !== undefined,
    stateProblem: loaded.problem,
    gateways: familyView(config, 6).gateways,
    mode,
  };
}

/** The status document right after a cycle, from the states it saved (each family's with the mode its cycle used). */
export function cycleStatus(config: Config, states: FamilyStates, modes: Partial<Record<4 | 6, string>>, now: number): StatusDocument {
  const state = states[4] ?? { version: 1 as const, gateways: {}, resolved: {} };
  return statusDocument({
    config: familyView(config, 4),
    state,
    stateFile: join(config.state_dir, STATE_FILE),
    hasState: states[4] !== undefined,
    mode: modes[4] ?? modes[6] ?? 'auto',
    now,
    ...(config.families.includes(6) && {
      ipv6: ipv6Input(config, { state: states[6] ?? { version: 1, gateways: {}, resolved: {} } }, modes[6] ?? 'auto'),
    }),
  });
}

/**
 * Status when the config does not load: the last state is still worth seeing (a daemon keeps
 * running on the config it had). Each key is taken from the file when it is usable on its own,
 * else its default; the gateways are the file's, or the state's when the file names none.
 */
export async function readStatusOfBrokenConfig(file: string, problems: string[], now: number): Promise<StatusDocument> {
  const path = resolve(file);
  const raw = await readConfigLeniently(path); // loadConfig said what is wrong
  const { shape } = configSchema;
  const config: StatusConfig = {
    file: path,
    state_dir: resolve(dirname(path), usable(shape.state_dir, raw.state_dir)),
    min_uptime: usable(shape.min_uptime, raw.min_uptime),
    mode: usable(shape.mode, raw.mode),
    gateways: gatewaysOf(raw.gateways),
  };
  if (config.gateways.length > 0) return readStatus(config, now, problems);
  const loaded = await loadState(config.state_dir);
  config.gateways = Object.keys(loaded.state.gateways).map((name) => ({ name, priority: null }));
  return readStatus(config, now, problems, loaded);
}

/** The value when it is valid, else the key's default. */
function usable<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : schema.parse(undefined);
}

/** The gateways a config names, with what can be read of each: best first, unknown priorities last. */
function gatewaysOf(value: unknown): StatusGateway[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  const text = (field: unknown) => (typeof field === 'string' ? field : undefined);
  const gateways = Object.entries(value as Record<string, Record<string, unknown> | null>).map(([name, gateway]): StatusGateway => {
    const priority = gateway?.priority;
    return { name, ip: text(gateway?.ip), dev: text(gateway?.dev), priority: typeof priority === 'number' ? priority : null };
  });
  return gateways.sort((a, b) => (a.priority ?? Infinity) - (b.priority ?? Infinity));
}
