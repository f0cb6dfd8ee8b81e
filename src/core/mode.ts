// Which mode is in force: NetGWM's rule (`if 'mode' in config: … else: modefile`). The config's
// `mode`, when written, wins over STATE_DIR/mode (what `netgwm use` writes), so that a mode file
// left over from NetGWM does not pin a migrated router whose config says otherwise.

/** Where the mode in force comes from. */
export type ModeSource = 'config' | 'use' | 'default';

export interface EffectiveMode {
  /** `auto` or the pinned gateway's name. */
  mode: string;
  source: ModeSource;
  /** What STATE_DIR/mode says, when it exists. */
  file?: string;
  /** Set when the file was not used: `overridden` by the config's `mode`, or `unknown` (names no gateway). */
  fileIgnored?: 'overridden' | 'unknown';
}

/**
 * @param configMode the config's `mode`, undefined when the key is not written
 * @param fileMode what STATE_DIR/mode says, undefined when there is none
 */
export function effectiveMode(configMode: string | undefined, fileMode: string | undefined, gatewayNames: string[]): EffectiveMode {
  const file = fileMode === undefined ? {} : { file: fileMode };
  if (configMode !== undefined)
    return {
      mode: configMode,
      source: 'config',
      ...file,
      ...(fileMode !== undefined && fileMode !== configMode ? { fileIgnored: 'overridden' } : {}),
    };
  if (fileMode === undefined) return { mode: 'auto', source: 'default' };
  if (fileMode === 'auto' || gatewayNames.includes(fileMode)) return { mode: fileMode, source: 'use', ...file };
  return { mode: 'auto', source: 'default', ...file, fileIgnored: 'unknown' };
}
