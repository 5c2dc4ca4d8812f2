/**
 * Verified, resumable download of one file.
 *
 * Bytes go to `<dest>.part`; a later attempt (a retry, or another run) resumes it with `Range: bytes=N-`.
 * The sha256 is computed while writing (the existing `.part` prefix is hashed first when resuming). Only after
 * the size and hash check out is the file renamed to its final name, so a file at `dest` is always complete.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { basename, dirname } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { FatalHttpError, TransientHttpError, discard, httpGet } from './http.js';

/** Progress of one file: bytes so far (including a resumed prefix) and the total when the server said it. */
export type ProgressCallback = (file: string, receivedBytes: number, totalBytes: number | null) => void;

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_RETRIES = 3;
/** Cap on a download whose size nobody knows (16 GiB: larger than any SAM export). */
export const DEFAULT_MAX_BYTES = 16 * 1024 ** 3;

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  url: string;
  /** Final path; `<dest>.part` and `<dest>.lock` are used beside it. */
  dest: string;
  /** Bytes expected (registry or pin); null/undefined = unknown. */
  expectedSize?: number | null;
  /** Lower-case hex sha256 expected; null/undefined = accept any (the caller pins it). */
  expectedSha256?: string | null;
  /** Where the expected hash comes from, for the mismatch message (e.g. `the registry`). */
  expectedFrom?: string;
  /** Name passed to `onProgress` (default: the file name of `dest`). */
  label?: string;
  /** Refuse bodies larger than this (default: 2× expectedSize when known, else {@link DEFAULT_MAX_BYTES}). */
  maxBytes?: number;
  /** Idle timeout per request in ms (default `$SAM_AMG_TIMEOUT_MS` or 30 s). */
  timeoutMs?: number;
  /** Extra attempts after the first (default 3); each resumes what the previous one left. */
  retries?: number;
  /** First backoff delay in ms, doubled per retry (default 1000). */
  retryDelayMs?: number;
  /** Environment for proxy settings and defaults (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer | (string | Buffer)[];
  onProgress?: ProgressCallback;
}

/** What {@link downloadFile} produced. */
export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  /** Attempts made (1 = no retry; 0 = another process had just downloaded it). */
  attempts: number;
  /** Bytes reused from an existing `.part` (0 = fresh download). */
  resumedFrom: number;
}

/** The downloaded bytes do not match the expected sha256 or size; the partial file has been deleted. */
export class ChecksumError extends Error {
  override readonly name = 'ChecksumError';
  constructor(message: string, readonly expected: string, readonly actual: string) {
    super(message);
  }
}

/** Idle timeout from options, else `$SAM_AMG_TIMEOUT_MS`, else 30 s. */
export function timeoutFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.SAM_AMG_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_TIMEOUT_MS;
}

/** Feeds a file on disk into `hash`; returns its byte count (used for a resumed `.part` prefix too). */
async function hashInto(path: string, hash: Hash): Promise<number> {
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return size;
}

/** sha256 (lower-case hex) and size of a file on disk, streamed. */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  const size = await hashInto(path, hash);
  return { sha256: hash.digest('hex'), size };
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `Content-Range: bytes 100-199/1000` → {start:100, total:1000}; the 416 form (`*` for the range) → {start:null, total:1000}. */
export function parseContentRange(header: string | undefined): { start: number | null; total: number | null } | null {
  if (!header) return null;
  const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(header.trim());
  if (!m) return null;
  return { start: m[1] !== undefined ? Number(m[1]) : null, total: m[2] === '*' ? null : Number(m[2]) };
}

function contentLength(res: IncomingMessage): number | null {
  const v = Number(res.headers['content-length']);
  return res.headers['content-length'] !== undefined && Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** An HTTP status that ends the download: a clear message with the URL and a hint. */
function statusError(status: number, res: IncomingMessage, url: string): Error {
  const text = `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''} for ${url}`;
  if (status === 408 || status === 425 || status === 429 || status >= 500) return new TransientHttpError(text);
  const hint =
    status === 404 ? ' (the file or revision does not exist there; check the registry entry)'
      : status === 401 || status === 403 ? ' (access denied: the repository may be gated or private)'
        : '';
  return new FatalHttpError(text + hint, status);
}

interface AttemptContext {
  opts: DownloadOptions;
  part: string;
  label: string;
  maxBytes: number;
  timeoutMs: number;
}

/**
 * One attempt: resume or start `.part`, stream the body into it while hashing. Returns the hash of the whole
 * `.part` when the server delivered everything it announced; throws TransientHttpError when it did not.
 */
async function attemptOnce(ctx: AttemptContext): Promise<{ sha256: string; size: number; resumedFrom: number }> {
  const { opts, part } = ctx;
  let offset = await fileSize(part);
  if (opts.expectedSize != null && offset > opts.expectedSize) {
    await rm(part, { force: true }); // longer than the whole file: cannot be a prefix of it
    offset = 0;
  }
  // Hash the resumed prefix before connecting: hashing gigabytes while a response waits would trip its idle timer.
  let prefixHash: Hash | null = null;
  if (offset > 0) {
    prefixHash = createHash('sha256');
    await hashInto(part, prefixHash);
  }
  const { res, body } = await httpGet(opts.url, {
    timeoutMs: ctx.timeoutMs,
    env: opts.env,
    ca: opts.ca,
    headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
  });
  const status = res.statusCode ?? 0;
  const range = parseContentRange(res.headers['content-range']);

  if (status === 416 && offset > 0) {
    discard(body);
    // The .part may already hold every byte (an earlier run died between the last byte and the rename).
    if ((range?.total ?? opts.expectedSize) === offset) {
      return { ...(await sha256File(part)), resumedFrom: offset };
    }
    await rm(part, { force: true });
    throw new TransientHttpError(`server refused to resume at byte ${offset}; starting over`);
  }
  if (status !== 200 && status !== 206) {
    discard(body);
    throw statusError(status, res, opts.url);
  }
  let total: number | null;
  if (status === 206) {
    if (range?.start !== offset) {
      discard(body);
      await rm(part, { force: true });
      throw new TransientHttpError(`server sent a different byte range (${res.headers['content-range']}) than asked (from ${offset}); starting over`);
    }
    const len = contentLength(res);
    total = range.total ?? (len !== null ? offset + len : null);
  } else {
    offset = 0; // 200: the server ignored the Range header and sends the whole file again
    total = contentLength(res);
  }
  if (total !== null && total > ctx.maxBytes) {
    discard(body);
    throw new FatalHttpError(`${opts.url} is ${total} bytes, more than the ${ctx.maxBytes}-byte limit for this file`);
  }
  if (total !== null && opts.expectedSize != null && total !== opts.expectedSize) {
    discard(body);
    throw new FatalHttpError(`${opts.url} is ${total} bytes but ${opts.expectedFrom ?? 'the registry'} expects ${opts.expectedSize}`);
  }

  const hash = offset > 0 && prefixHash ? prefixHash : createHash('sha256');
  const out = createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
  let writeError: Error | undefined;
  out.on('error', (e) => {
    writeError = e;
    body.destroy(e);
  });
  let received = offset;
  opts.onProgress?.(ctx.label, received, total);
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      received += buf.length;
      if (received > ctx.maxBytes) {
        body.destroy();
        throw new FatalHttpError(`${opts.url} sent more than the ${ctx.maxBytes}-byte limit for this file`);
      }
      hash.update(buf);
      if (!out.write(buf)) await once(out, 'drain');
      opts.onProgress?.(ctx.label, received, total);
    }
  } catch (e) {
    if (e instanceof FatalHttpError || e instanceof TransientHttpError) throw e;
    if (writeError) throw new FatalHttpError(`cannot write ${part}: ${writeError.message}`);
    throw new TransientHttpError(`connection lost after ${received} bytes: ${(e as Error).message}`);
  } finally {
    await closeStream(out); // keep what arrived: the next attempt resumes from it
  }
  if (writeError) throw new FatalHttpError(`cannot write ${part}: ${(writeError as Error).message}`);
  if (total !== null && received !== total) {
    throw new TransientHttpError(`connection closed after ${received} of ${total} bytes`);
  }
  return { sha256: hash.digest('hex'), size: received, resumedFrom: offset };
}

async function closeStream(out: WriteStream): Promise<void> {
  if (out.closed) return;
  out.end();
  try {
    await once(out, 'close');
  } catch {
    /* a write error surfaces through the attempt */
  }
}

/**
 * Runs `fn` while holding `<dest>.lock`, so two sam-amg processes never append to the same `.part`. A lock left
 * by a dead process is taken over; a live holder is waited for while its `.part` keeps growing, and given up on
 * after `stallMs` without growth.
 */
async function withLock<T>(dest: string, stallMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = `${dest}.lock`;
  let lastSize = -1;
  let lastChange = Date.now();
  for (;;) {
    try {
      const fh = await open(lock, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number((await readSmall(lock)).trim());
      if (!isAlive(holder)) {
        await rm(lock, { force: true });
        continue;
      }
      const size = await fileSize(`${dest}.part`);
      if (size !== lastSize) {
        lastSize = size;
        lastChange = Date.now();
      } else if (Date.now() - lastChange > stallMs) {
        throw new Error(`another sam-amg process (pid ${holder}) is downloading ${dest} but has made no progress; wait for it, or delete ${lock} if it is gone`);
      }
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

async function readSmall(path: string): Promise<string> {
  try {
    const fh = await open(path, 'r');
    try {
      return (await fh.readFile('utf8')).slice(0, 32);
    } finally {
      await fh.close();
    }
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Downloads `opts.url` to `opts.dest` with resume, retries, size guard and sha256 verification.
 * On a hash or size mismatch the partial file is deleted and a ChecksumError names expected and actual values.
 */
export async function downloadFile(opts: DownloadOptions): Promise<DownloadResult> {
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? timeoutFromEnv(env);
  const retries = opts.retries ?? DEFAULT_RETRIES;
  const retryDelayMs = opts.retryDelayMs ?? 1000;
  const maxBytes = opts.maxBytes ?? (opts.expectedSize != null ? 2 * opts.expectedSize : maxBytesFromEnv(env));
  const part = `${opts.dest}.part`;
  const ctx: AttemptContext = { opts: { ...opts, env }, part, label: opts.label ?? basename(opts.dest), maxBytes, timeoutMs };
  await mkdir(dirname(opts.dest), { recursive: true });

  return withLock(opts.dest, Math.max(2 * timeoutMs, 60_000), async () => {
    const done = await alreadyDownloaded(opts);
    if (done) return done;
    let firstResume = -1;
    for (let attempt = 1; ; attempt++) {
      let got: { sha256: string; size: number; resumedFrom: number };
      try {
        got = await attemptOnce(ctx);
      } catch (e) {
        const transient = e instanceof TransientHttpError;
        if (!transient || attempt > retries) {
          const tries = attempt > 1 ? ` after ${attempt} attempts` : '';
          throw new Error(`download of ${opts.url} failed${tries}: ${(e as Error).message}`);
        }
        await sleep(retryDelayMs * 2 ** (attempt - 1));
        continue;
      }
      if (firstResume < 0) firstResume = got.resumedFrom;
      await verify(opts, part, got);
      await rename(part, opts.dest);
      return { path: opts.dest, size: got.size, sha256: got.sha256, attempts: attempt, resumedFrom: firstResume };
    }
  });
}

/**
 * When another process finished `dest` while we waited for the lock: accept it if it matches what is expected,
 * else delete it and download afresh.
 */
async function alreadyDownloaded(opts: DownloadOptions): Promise<DownloadResult | null> {
  if ((await fileSize(opts.dest)) === 0) return null;
  const got = await sha256File(opts.dest);
  const sizeOk = opts.expectedSize == null || got.size === opts.expectedSize;
  const hashOk = !opts.expectedSha256 || got.sha256 === opts.expectedSha256.toLowerCase();
  if (sizeOk && hashOk) return { path: opts.dest, size: got.size, sha256: got.sha256, attempts: 0, resumedFrom: got.size };
  await rm(opts.dest, { force: true });
  return null;
}

/** Size and hash check of a finished `.part`; deletes it on a mismatch (a retry could only repeat the bytes). */
async function verify(opts: DownloadOptions, part: string, got: { sha256: string; size: number }): Promise<void> {
  const from = opts.expectedFrom ?? 'the registry';
  if (opts.expectedSize != null && got.size !== opts.expectedSize) {
    await rm(part, { force: true });
    throw new ChecksumError(`size mismatch for ${opts.url}: expected ${opts.expectedSize} bytes (${from}), got ${got.size}; the download was deleted`,
      String(opts.expectedSize), String(got.size));
  }
  if (opts.expectedSha256 && got.sha256 !== opts.expectedSha256.toLowerCase()) {
    await rm(part, { force: true });
    throw new ChecksumError(`sha256 mismatch for ${opts.url}: expected ${opts.expectedSha256} (${from}), actual ${got.sha256}; the download was deleted`,
      opts.expectedSha256, got.sha256);
  }
}

/** `$SAM_AMG_MAX_DOWNLOAD_BYTES`, else {@link DEFAULT_MAX_BYTES}. */
export function maxBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.SAM_AMG_MAX_DOWNLOAD_BYTES);
  return Number.isSafeInteger(v) && v > 0 ? v : DEFAULT_MAX_BYTES;
}
