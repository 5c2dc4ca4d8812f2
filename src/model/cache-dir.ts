/**
 * Where sam-amg keeps derived files (pruned decoders now; downloaded models later):
 * `$SAM_AMG_HOME`, else `$XDG_CACHE_HOME/sam-amg`, else `~/.cache/sam-amg`.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SAM_AMG_HOME) return env.SAM_AMG_HOME;
  const xdg = env.XDG_CACHE_HOME && env.XDG_CACHE_HOME.length > 0 ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(xdg, 'sam-amg');
}
