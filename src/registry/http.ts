/**
 * Minimal HTTP(S) GET over node's `http`/`https` modules, with what model downloads need and `fetch` hides:
 * redirects we follow ourselves (https→http refused), `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (CONNECT tunnel then
 * TLS for https targets), and one idle timer that covers connecting, waiting for headers and stalled bodies.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { isIP, type Socket } from 'node:net';
import { Transform, pipeline, type Readable } from 'node:stream';
import { VERSION } from '../version.js';

/** Options of one GET. */
export interface HttpGetOptions {
  /** Extra request headers (e.g. `Range`). */
  headers?: Record<string, string>;
  /** Milliseconds without progress (connect, headers or body bytes) before the request fails. */
  timeoutMs: number;
  /** Environment to read proxy settings from (default `process.env`); tests pass their own. */
  env?: NodeJS.ProcessEnv;
  /** Redirects to follow (default 5). */
  maxRedirects?: number;
  /** Extra trusted CA certificates (PEM) for https; mostly for tests and TLS-intercepting proxies. */
  ca?: string | Buffer | (string | Buffer)[];
}

/** A response: status and headers on `res`; read the bytes from `body` (idle-timeout guarded), not from `res`. */
export interface HttpResponse {
  res: http.IncomingMessage;
  body: Readable;
  /** The URL after redirects. */
  finalUrl: URL;
}

/** Failure that a retry may fix (network error, timeout, 5xx, 429). */
export class TransientHttpError extends Error {
  override readonly name = 'TransientHttpError';
}

/** Failure that a retry will not fix (4xx, bad redirect, proxy refusal). */
export class FatalHttpError extends Error {
  override readonly name = 'FatalHttpError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

const USER_AGENT = `sam-amg/${VERSION} node/${process.versions.node}`;

/** First non-empty value among `names` in `env` (proxy variables come in upper and lower case). */
function envValue(env: NodeJS.ProcessEnv, ...names: string[]): string | undefined {
  for (const n of names) {
    const v = env[n];
    if (v !== undefined && v.trim() !== '') return v.trim();
  }
  return undefined;
}

function defaultPort(u: URL): number {
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

/**
 * Whether `NO_PROXY` exempts `target`. Entries are comma/space separated: `*` (everything), a host name matching
 * itself and its subdomains (`example.com`, `.example.com`, `*.example.com`), an IP, each optionally with `:port`.
 */
export function bypassesProxy(target: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = target.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const port = defaultPort(target);
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    let entryPort: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1]!;
      if (bracketed[2]) entryPort = Number(bracketed[2]);
    } else if (/^[^:]+:\d+$/.test(entry)) {
      // host:port; a bare IPv6 address has several colons and never a port here
      const at = entry.lastIndexOf(':');
      entryPort = Number(entry.slice(at + 1));
      entry = entry.slice(0, at);
    }
    entry = entry.replace(/^\*?\./, '');
    if (entryPort !== undefined && entryPort !== port) continue;
    if (host === entry || host.endsWith(`.${entry}`)) return true;
  }
  return false;
}

/** The proxy to use for `target` per the usual environment variables, or null for a direct connection. */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv = process.env): URL | null {
  const raw = target.protocol === 'https:'
    ? envValue(env, 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy')
    : envValue(env, 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy');
  if (!raw) return null;
  if (bypassesProxy(target, envValue(env, 'NO_PROXY', 'no_proxy'))) return null;
  let proxy: URL;
  try {
    proxy = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new FatalHttpError(`proxy setting '${raw}' is not a URL (expected e.g. http://proxy.example:3128)`);
  }
  if (proxy.protocol !== 'http:') {
    throw new FatalHttpError(`proxy ${proxy.protocol}// is not supported; use an http:// proxy URL`);
  }
  return proxy;
}

/** `Proxy-Authorization` value from the proxy URL's user:password, if any. */
function proxyAuth(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined;
  const creds = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(creds).toString('base64')}`;
}

/** The proxy URL without credentials, for messages. */
function showProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/**
 * An idle watchdog: `kick()` restarts the countdown; when it runs out, `onTimeout` is called once.
 * One timer for connect + headers + body keeps the behaviour easy to reason about.
 */
class Watchdog {
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly ms: number, private readonly onTimeout: () => void) {
    this.kick();
  }
  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimeout, this.ms);
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

/** Opens a CONNECT tunnel through `proxy` to `target`'s host:port and returns the raw socket. */
function connectTunnel(proxy: URL, target: URL, signalTimeout: (destroy: (err: Error) => void) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const authority = `${target.hostname}:${defaultPort(target)}`;
    const headers: Record<string, string> = { Host: authority, 'User-Agent': USER_AGENT };
    const auth = proxyAuth(proxy);
    if (auth) headers['Proxy-Authorization'] = auth;
    const req = http.request({
      host: proxy.hostname.replace(/^\[|\]$/g, ''),
      port: defaultPort(proxy),
      method: 'CONNECT',
      path: authority,
      headers,
      agent: false,
    });
    signalTimeout((err) => req.destroy(err));
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        const hint = res.statusCode === 407 ? ' (proxy authentication required: put user:password in the proxy URL)' : '';
        reject(new FatalHttpError(`proxy ${showProxy(proxy)} refused CONNECT ${authority}: HTTP ${res.statusCode}${hint}`, res.statusCode));
        return;
      }
      resolve(socket);
    });
    req.once('error', (e) => reject(new TransientHttpError(`proxy ${showProxy(proxy)}: ${e.message}`)));
    req.end();
  });
}

/**
 * One GET without following redirects. The body stream is guarded by the same idle timer: if no byte arrives
 * for `timeoutMs`, it fails with a TransientHttpError.
 */
export async function requestOnce(url: URL, opts: HttpGetOptions): Promise<{ res: http.IncomingMessage; body: Readable }> {
  const env = opts.env ?? process.env;
  const proxy = proxyFor(url, env);
  const headers: Record<string, string> = {
    'User-Agent': USER_AGENT,
    'Accept-Encoding': 'identity', // byte ranges and hashes must refer to the stored bytes
    ...opts.headers,
  };
  let destroyCurrent: (err: Error) => void = () => {};
  let timedOut = false;
  const timeoutError = () =>
    new TransientHttpError(`no data from ${url.host} for ${opts.timeoutMs} ms (timeout; raise it with SAM_AMG_TIMEOUT_MS)`);
  const watchdog = new Watchdog(opts.timeoutMs, () => {
    timedOut = true;
    destroyCurrent(timeoutError());
  });

  // The CONNECT socket, when tunnelling; closed with the response so a finished download leaves nothing open.
  let tunnel: Socket | undefined;
  try {
    let req: http.ClientRequest;
    if (url.protocol === 'https:') {
      if (proxy) {
        tunnel = await connectTunnel(proxy, url, (d) => (destroyCurrent = d));
        watchdog.kick();
      }
      const socket = tunnel;
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const servername = isIP(host) ? undefined : host; // SNI must not carry an IP address (RFC 6066)
      req = https.request({
        host,
        port: defaultPort(url),
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers,
        ca: opts.ca,
        servername,
        ...(socket ? {} : { agent: false }),
        // Through a tunnel: TLS over the CONNECT socket, with SNI and certificate checks for the target host.
        ...(socket ? { createConnection: () => tls.connect({ socket, host, servername, ca: opts.ca }) } : {}),
      });
    } else if (proxy) {
      const auth = proxyAuth(proxy);
      req = http.request({
        host: proxy.hostname.replace(/^\[|\]$/g, ''),
        port: defaultPort(proxy),
        path: url.href, // absolute-URI form, as a forward proxy expects
        method: 'GET',
        headers: { ...headers, Host: url.host, ...(auth ? { 'Proxy-Authorization': auth } : {}) },
        agent: false,
      });
    } else {
      req = http.request(url, { method: 'GET', headers, agent: false });
    }
    destroyCurrent = (err) => req.destroy(err);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (e) => reject(timedOut ? timeoutError() : e instanceof FatalHttpError ? e : new TransientHttpError(`${url.host}: ${e.message}`)));
      req.end();
    });
    destroyCurrent = (err) => res.destroy(err);
    watchdog.kick();
    // Kick the timer per chunk without a 'data' listener on res: that would start the flow before the caller reads.
    const kicker = new Transform({
      transform(chunk, _enc, done) {
        watchdog.kick();
        done(null, chunk);
      },
    });
    const body = pipeline(res, kicker, () => {
      watchdog.stop();
      tunnel?.destroy();
    });
    return { res, body };
  } catch (e) {
    watchdog.stop();
    tunnel?.destroy();
    if (timedOut) throw timeoutError();
    throw e;
  }
}

/** Reads and discards a response body so the socket is released (small bodies of redirects and errors). */
export function discard(body: Readable): void {
  body.on('error', () => {});
  body.resume();
}

/**
 * GET `url`, following up to `maxRedirects` (default 5) redirects. Refuses a redirect from https to http
 * (it would drop transport security mid-way). Returns the first non-redirect response, whatever its status.
 */
export async function httpGet(url: string | URL, opts: HttpGetOptions): Promise<HttpResponse> {
  let current = new URL(url);
  const maxRedirects = opts.maxRedirects ?? 5;
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'https:' && current.protocol !== 'http:') {
      throw new FatalHttpError(`unsupported URL scheme ${current.protocol} in ${current.href}`);
    }
    const { res, body } = await requestOnce(current, opts);
    const status = res.statusCode ?? 0;
    if (![301, 302, 303, 307, 308].includes(status)) return { res, body, finalUrl: current };
    discard(body);
    const location = res.headers.location;
    if (!location) throw new FatalHttpError(`HTTP ${status} redirect without a Location header from ${current.href}`, status);
    if (hop >= maxRedirects) throw new FatalHttpError(`too many redirects (more than ${maxRedirects}) starting at ${new URL(url).href}`, status);
    const next = new URL(location, current);
    if (current.protocol === 'https:' && next.protocol === 'http:') {
      throw new FatalHttpError(`refusing redirect from https to http (${current.host} → ${next.href})`, status);
    }
    current = next;
  }
}
