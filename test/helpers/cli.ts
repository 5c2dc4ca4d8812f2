/** Runs the compiled CLI (`bin/sam-amg.js` → `dist/`, built by `npm test`'s tsc step) as a user would. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './golden.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const fixturesDir = join(repoRoot, 'test', '.fixtures');

export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  if (!existsSync(join(repoRoot, 'dist', 'src', 'cli', 'main.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test builds before testing)');
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin', 'sam-amg.js'), ...args], {
      cwd: opts.cwd ?? repoRoot,
      env: { ...process.env, SAM_AMG_HOME: join(fixturesDir, 'home'), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
