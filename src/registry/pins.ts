/**
 * Trust-on-first-use pins: `<cache>/pins.json` maps a download URL to the sha256 and size of the first complete
 * download of it. Later downloads of that URL must match. A registry sha256 always takes precedence; a pin only
 * stands in while the registry says null. Move a pin into the registry with `sam-amg models pin NAME`.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the first complete download of a URL looked like. */
export interface Pin {
  sha256: string;
  size: number;
  /** Cache-relative path it was stored at (`models/<model>/<precision>/<path>`), for humans. */
  file: string;
  /** ISO time of the download. */
  pinnedAt: string;
}

interface PinFile {
  version: 1;
  pins: Record<string, Pin>;
}

/** `<cacheDir>/pins.json`. */
export function pinsPath(cacheDir: string): string {
  return join(cacheDir, 'pins.json');
}

/** All pins, keyed by URL; empty when the file does not exist. Throws (one line) when it exists but is corrupt. */
export function readPins(cacheDir: string): Record<string, Pin> {
  const path = pinsPath(cacheDir);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    const data = JSON.parse(text) as PinFile;
    if (data.version !== 1 || typeof data.pins !== 'object' || data.pins === null) throw new Error('unexpected layout');
    return data.pins;
  } catch (e) {
    throw new Error(`${path} is corrupt (${(e as Error).message}); fix or delete it (deleting forgets first-use hashes)`);
  }
}

/** The pin of `url`, if any. */
export function getPin(cacheDir: string, url: string): Pin | undefined {
  return readPins(cacheDir)[url];
}

/** Records (or replaces) the pin of `url`; written to a temp file and renamed so readers never see half a file. */
export function recordPin(cacheDir: string, url: string, pin: Pin): void {
  const pins = readPins(cacheDir);
  pins[url] = pin;
  const data: PinFile = { version: 1, pins: Object.fromEntries(Object.entries(pins).sort(([a], [b]) => a.localeCompare(b))) };
  mkdirSync(cacheDir, { recursive: true });
  const path = pinsPath(cacheDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n');
  renameSync(tmp, path);
}
