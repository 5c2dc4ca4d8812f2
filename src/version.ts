/** The package version, read once from package.json (kept beside dist/ in every install). */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')).version as string;
    } catch {
      /* try the next location: src/ (tests) vs dist/src/ (installed) */
    }
  }
  return '0.0.0';
}

export const VERSION = readVersion();
