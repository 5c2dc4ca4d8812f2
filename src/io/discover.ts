/**
 * Input discovery: files, folders (recursive, sorted) and globs → an ordered, de-duplicated list of
 * image files, each with the name it gets in the output (`file_name`).
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep, basename } from 'node:path';

/** Extensions picked up when walking folders (matched case-insensitively). Files named explicitly are
 * always tried, whatever their extension. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.jpe', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

export interface InputFile {
  /** Absolute path. */
  path: string;
  /** Name written to the output: relative to the folder or glob base it was found under, or the file's
   * base name when it was named directly. Always uses forward slashes. */
  fileName: string;
}

export interface DiscoveryResult {
  files: InputFile[];
  /** Arguments that matched nothing, with the reason (reported as errors by the CLI). */
  missing: { input: string; reason: string }[];
}

const hasImageExtension = (name: string) => {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
};

const toPosix = (p: string) => p.split(sep).join('/');

/** Natural order by code units: deterministic across platforms and locales. */
const byPath = (a: InputFile, b: InputFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Walks a folder recursively; symbolic links to folders are not followed (no cycles, no escapes). */
function walk(dir: string, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if ((e.isFile() || e.isSymbolicLink()) && hasImageExtension(e.name)) {
      if (e.isSymbolicLink()) {
        try {
          if (!statSync(p).isFile()) continue;
        } catch {
          continue;
        }
      }
      out.push(p);
    }
  }
}

const GLOB_CHARS = /[*?[]/;

/** Converts a glob (`*`, `?`, `**`, `[...]`) relative to its base into a RegExp over posix paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more folders; a trailing `**` matches anything.
        if (glob[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
        } else {
          re += '.*';
          i += 1;
        }
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let cls = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (cls.startsWith('!')) cls = '^' + cls.slice(1);
        re += `[${cls}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, process.platform === 'win32' ? 'i' : '');
}

/** Expands the command line's inputs, in argument order; within a folder or glob, sorted by path. */
export function discoverInputs(inputs: string[], cwd = process.cwd()): DiscoveryResult {
  const files: InputFile[] = [];
  const missing: DiscoveryResult['missing'] = [];
  const seen = new Set<string>();
  const add = (list: InputFile[]) => {
    for (const f of list.sort(byPath)) {
      if (!seen.has(f.path)) {
        seen.add(f.path);
        files.push(f);
      }
    }
  };
  for (const input of inputs) {
    const abs = resolve(cwd, input);
    let st;
    try {
      st = statSync(abs);
    } catch {
      st = null;
    }
    if (st?.isDirectory()) {
      const found: string[] = [];
      walk(abs, found);
      if (found.length === 0) missing.push({ input, reason: 'folder holds no image files' });
      add(found.map((p) => ({ path: p, fileName: toPosix(relative(abs, p)) })));
    } else if (st?.isFile()) {
      add([{ path: abs, fileName: basename(abs) }]);
    } else if (GLOB_CHARS.test(input)) {
      const posix = toPosix(input);
      const parts = posix.split('/');
      const firstGlob = parts.findIndex((s) => GLOB_CHARS.test(s));
      const baseRel = parts.slice(0, firstGlob).join('/');
      const base = resolve(cwd, baseRel === '' ? '.' : baseRel);
      const pattern = globToRegExp(parts.slice(firstGlob).join('/'));
      const found: string[] = [];
      walk(base, found);
      const matched = found
        .map((p) => ({ path: p, fileName: toPosix(relative(base, p)) }))
        .filter((f) => pattern.test(f.fileName));
      if (matched.length === 0) missing.push({ input, reason: 'pattern matches no image files' });
      add(matched);
    } else {
      missing.push({ input, reason: 'no such file or folder' });
    }
  }
  return { files, missing };
}
