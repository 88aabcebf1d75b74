// The default data folder: where `insalun data download` puts data sets and where every command
// looks when no --data-dir is given.

import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/**
 * `$INSALUN_DATA_DIR`, else `$XDG_CACHE_HOME/insalun/data` (when XDG_CACHE_HOME is an absolute
 * path, as the XDG spec asks), else `~/.cache/insalun/data`.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.INSALUN_DATA_DIR;
  if (explicit) return explicit;
  const xdg = env.XDG_CACHE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, 'insalun', 'data');
  return join(homedir(), '.cache', 'insalun', 'data');
}
