/**
 * Downloader and resolver against local servers only (127.0.0.1, port 0): resume, restart, checksums, HTTP
 * errors, redirects, timeouts, first-use pins, offline mode, external-data sidecars, and proxies (absolute-URI
 * forwarding for http, CONNECT + TLS for https).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { downloadFile, parseContentRange } from '../src/registry/download.js';
import { bypassesProxy, proxyFor } from '../src/registry/http.js';
import { readPins } from '../src/registry/pins.js';
import { validateRegistry, type Registry } from '../src/registry/registry.js';
import { planVariant, resolveModel } from '../src/registry/resolve.js';

// Self-signed test certificate for CN=localhost / 127.0.0.1, valid until 2126 (test fixture only).
const TEST_CERT = `-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUV52Ccl3qeukTYAT3ddlaW1LTS5swCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzA1NDY0OVoYDzIxMjYxMTAz
MDU0NjQ5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARtz56sdisKTLDesWYr0NdWtFalmaDB0w+z7+TiaIIQAdWlVK3PBp3z
RH4P4ZC8vQgYDLNaHXSBvTWmZJxpVuUoo28wbTAdBgNVHQ4EFgQUlMlhovAzpSpp
OhkBoKXlMyP5+sYwHwYDVR0jBBgwFoAUlMlhovAzpSppOhkBoKXlMyP5+sYwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDRwAwRAIgTfC0Zw+2dDMMll8OQ1KEIQU92yTI8g7479LoSzlQuu8CICkv
PB2pvhnn/piJEniJIhCPAi9RoxHL90RuTnQGKCsy
-----END CERTIFICATE-----
`;
const TEST_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg+v3sFZ1ZbI7J2dEZ
3seSumtCt2z5AIX2OZDFZhHIniGhRANCAARtz56sdisKTLDesWYr0NdWtFalmaDB
0w+z7+TiaIIQAdWlVK3PBp3zRH4P4ZC8vQgYDLNaHXSBvTWmZJxpVuUo
-----END PRIVATE KEY-----
`;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const FAST = { retryDelayMs: 5, timeoutMs: 2000, env: {} as NodeJS.ProcessEnv };

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void;

/** A local server; `handler` gets the request number per path (1-based) so tests can misbehave once. */
async function startServer(handler: Handler, tlsOpts?: { cert: string; key: string }) {
  const seen: Seen[] = [];
  const hits = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const n = (hits.get(req.url ?? '') ?? 0) + 1;
    hits.set(req.url ?? '', n);
    handler(req, res, n);
  };
  const server = tlsOpts ? https.createServer(tlsOpts, onRequest) : http.createServer(onRequest);
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `${tlsOpts ? 'https' : 'http'}://${tlsOpts ? 'localhost' : '127.0.0.1'}:${port}`,
    seen,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Serves `data`, honouring `Range: bytes=N-` unless `ignoreRange`. */
function serveBytes(req: http.IncomingMessage, res: http.ServerResponse, data: Buffer, opts: { ignoreRange?: boolean } = {}) {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m && !opts.ignoreRange) {
    const start = Number(m[1]);
    if (start >= data.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${data.length}` }).end();
      return;
    }
    res.writeHead(206, { 'Content-Length': data.length - start, 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` });
    res.end(data.subarray(start));
    return;
  }
  res.writeHead(200, { 'Content-Length': data.length });
  res.end(data);
}

/** Announces the whole file, sends `n` bytes, then kills the connection. */
function serveCut(res: http.ServerResponse, data: Buffer, n: number) {
  res.writeHead(200, { 'Content-Length': data.length });
  res.write(data.subarray(0, n), () => setTimeout(() => res.socket?.destroy(), 30));
}

let tmp: string;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'sam-amg-dl-'));
});
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function server(handler: Handler, tlsOpts?: { cert: string; key: string }) {
  const s = await startServer(handler, tlsOpts);
  cleanups.push(() => s.close());
  return s;
}

let n = 0;
const freshDest = (name = 'file.bin') => join(tmp, `case-${++n}`, name);

describe('downloadFile', () => {
  const data = randomBytes(300_000);

  it('downloads, verifies the sha256 and renames atomically', async () => {
    const s = await server((req, res) => serveBytes(req, res, data));
    const dest = freshDest();
    const progress: number[] = [];
    const r = await downloadFile({ url: `${s.url}/f`, dest, expectedSha256: sha(data), expectedSize: data.length, ...FAST,
      onProgress: (_f, got, total) => { progress.push(got); expect(total).toBe(data.length); } });
    expect(readFileSync(dest).equals(data)).toBe(true);
    expect(r).toMatchObject({ size: data.length, sha256: sha(data), attempts: 1, resumedFrom: 0 });
    expect(existsSync(`${dest}.part`)).toBe(false);
    expect(existsSync(`${dest}.lock`)).toBe(false);
    expect(progress.at(-1)).toBe(data.length);
    expect(s.seen[0]!.headers['accept-encoding']).toBe('identity');
  });

  it('resumes with Range after the server cuts the connection mid-transfer', async () => {
    const cut = 100_000;
    const s = await server((req, res, hit) => (hit === 1 ? serveCut(res, data, cut) : serveBytes(req, res, data)));
    const dest = freshDest();
    const r = await downloadFile({ url: `${s.url}/f`, dest, expectedSha256: sha(data), ...FAST });
    expect(s.seen).toHaveLength(2);
    expect(s.seen[0]!.headers.range).toBeUndefined();
    expect(s.seen[1]!.headers.range).toBe(`bytes=${cut}-`);
    expect(r.attempts).toBe(2);
    expect(readFileSync(dest).equals(data)).toBe(true);
  });

  it('resumes a .part left by an earlier run, hashing the prefix first', async () => {
    const s = await server((req, res) => serveBytes(req, res, data));
    const dest = freshDest();
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.part`, data.subarray(0, 12345));
    const r = await downloadFile({ url: `${s.url}/f`, dest, expectedSha256: sha(data), ...FAST });
    expect(s.seen[0]!.headers.range).toBe('bytes=12345-');
    expect(r.resumedFrom).toBe(12345);
    expect(readFileSync(dest).equals(data)).toBe(true);
  });

  it('finishes a complete .part when the server answers 416', async () => {
    const s = await server((req, res) => serveBytes(req, res, data));
    const dest = freshDest();
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.part`, data);
    const r = await downloadFile({ url: `${s.url}/f`, dest, expectedSha256: sha(data), ...FAST });
    expect(r.sha256).toBe(sha(data));
    expect(readFileSync(dest).equals(data)).toBe(true);
  });

  it('restarts cleanly when the server ignores Range (200)', async () => {
    const s = await server((req, res, hit) => (hit === 1 ? serveCut(res, data, 50_000) : serveBytes(req, res, data, { ignoreRange: true })));
    const dest = freshDest();
    const r = await downloadFile({ url: `${s.url}/f`, dest, expectedSha256: sha(data), ...FAST });
    expect(s.seen[1]!.headers.range).toBe('bytes=50000-');
    expect(r.resumedFrom).toBe(0);
    expect(readFileSync(dest).equals(data)).toBe(true);
  });

  it('deletes the file and names expected and actual hashes on a checksum mismatch', async () => {
    const s = await server((req, res) => serveBytes(req, res, data));
    const dest = freshDest();
    const wrong = 'ab'.repeat(32);
    await expect(downloadFile({ url: `${s.url}/f`, dest, expectedSha256: wrong, ...FAST }))
      .rejects.toThrow(new RegExp(`sha256 mismatch .*expected ${wrong}.*actual ${sha(data)}`));
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('fails at once with the URL on 404 (no retries)', async () => {
    const s = await server((_req, res) => res.writeHead(404, 'Not Found').end('nope'));
    const url = `${s.url}/missing.onnx`;
    await expect(downloadFile({ url, dest: freshDest(), ...FAST })).rejects.toThrow(`HTTP 404 Not Found for ${url}`);
    expect(s.seen).toHaveLength(1);
  });

  it('retries a 503 and then succeeds', async () => {
    const s = await server((req, res, hit) => (hit === 1 ? res.writeHead(503).end() : serveBytes(req, res, data)));
    const r = await downloadFile({ url: `${s.url}/f`, dest: freshDest(), ...FAST });
    expect(r.attempts).toBe(2);
  });

  it('follows redirects (relative and absolute) and stops after 5', async () => {
    const s = await server((req, res) => {
      if (req.url === '/a') res.writeHead(302, { Location: '/b' }).end();
      else if (req.url === '/b') res.writeHead(307, { Location: `${s.url}/c` }).end();
      else if (req.url === '/loop') res.writeHead(302, { Location: '/loop' }).end();
      else serveBytes(req, res, data);
    });
    await downloadFile({ url: `${s.url}/a`, dest: freshDest(), expectedSha256: sha(data), ...FAST });
    expect(s.seen.map((x) => x.url)).toEqual(['/a', '/b', '/c']);
    await expect(downloadFile({ url: `${s.url}/loop`, dest: freshDest(), ...FAST })).rejects.toThrow(/too many redirects/);
  });

  it('refuses a redirect from https to http', async () => {
    const s = await server((_req, res) => res.writeHead(302, { Location: 'http://127.0.0.1:9/x' }).end(), { cert: TEST_CERT, key: TEST_KEY });
    await expect(downloadFile({ url: `${s.url}/f`, dest: freshDest(), ca: TEST_CERT, ...FAST }))
      .rejects.toThrow(/refusing redirect from https to http/);
  });

  it('times out a stalled body within the configured timeout', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'Content-Length': 1000 });
      res.write(Buffer.alloc(10)); // then nothing
    });
    const t0 = Date.now();
    await expect(downloadFile({ url: `${s.url}/f`, dest: freshDest(), ...FAST, timeoutMs: 200, retries: 1 }))
      .rejects.toThrow(/after 2 attempts: no data from 127\.0\.0\.1:\d+ for 200 ms/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('times out a server that never answers the request', async () => {
    const s = await server(() => { /* never respond */ });
    await expect(downloadFile({ url: `${s.url}/f`, dest: freshDest(), ...FAST, timeoutMs: 150, retries: 0 }))
      .rejects.toThrow(/no data .* for 150 ms/);
  });

  it('takes over a lock left by a dead process', async () => {
    const s = await server((req, res) => serveBytes(req, res, data));
    const dest = freshDest();
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.lock`, '999999999');
    await downloadFile({ url: `${s.url}/f`, dest, expectedSha256: sha(data), ...FAST });
    expect(existsSync(`${dest}.lock`)).toBe(false);
  });

  it('waits for a live lock holder and uses the file it finished', async () => {
    const s = await server((req, res) => serveBytes(req, res, data));
    const dest = freshDest();
    mkdirSync(dirname(dest), { recursive: true });
    writeFileSync(`${dest}.lock`, String(process.pid)); // "another download" in progress
    setTimeout(() => {
      writeFileSync(dest, data);
      rmSync(`${dest}.lock`);
    }, 300);
    const r = await downloadFile({ url: `${s.url}/f`, dest, expectedSha256: sha(data), ...FAST });
    expect(r.attempts).toBe(0);
    expect(s.seen).toHaveLength(0);
  });

  it('refuses bodies over the size guard', async () => {
    const s = await server((req, res) => serveBytes(req, res, data));
    await expect(downloadFile({ url: `${s.url}/f`, dest: freshDest(), maxBytes: 1000, ...FAST }))
      .rejects.toThrow(/more than the 1000-byte limit/);
    await expect(downloadFile({ url: `${s.url}/f`, dest: freshDest(), expectedSize: 10, ...FAST }))
      .rejects.toThrow(/more than the 20-byte limit/);
  });
});

describe('proxies', () => {
  const data = randomBytes(50_000);

  it('picks proxies from the environment and honours NO_PROXY', () => {
    const env = { HTTPS_PROXY: 'http://p:1', http_proxy: 'p2:2', NO_PROXY: 'internal.example, .corp.example,10.0.0.1,localhost:8443' };
    expect(proxyFor(new URL('https://huggingface.co/x'), env)?.href).toBe('http://p:1/');
    expect(proxyFor(new URL('http://huggingface.co/x'), env)?.href).toBe('http://p2:2/');
    expect(proxyFor(new URL('https://a.internal.example/x'), env)).toBeNull();
    expect(proxyFor(new URL('https://x.corp.example/x'), env)).toBeNull();
    expect(proxyFor(new URL('http://10.0.0.1/x'), env)).toBeNull();
    expect(proxyFor(new URL('https://localhost:8443/x'), env)).toBeNull();
    expect(proxyFor(new URL('https://localhost:9443/x'), env)?.host).toBe('p:1');
    expect(proxyFor(new URL('https://huggingface.co/x'), {})).toBeNull();
    expect(bypassesProxy(new URL('https://anything/'), '*')).toBe(true);
  });

  it('sends plain http through an HTTP proxy with an absolute URI and basic auth', async () => {
    const origin = await server((req, res) => serveBytes(req, res, data));
    const proxySeen: Seen[] = [];
    const proxy = await server((req, res) => {
      proxySeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      http.get(req.url!, { headers: { range: req.headers.range ?? '' } }, (up) => {
        res.writeHead(up.statusCode!, up.headers);
        up.pipe(res);
      });
    });
    const env = { HTTP_PROXY: `http://user:p%40ss@127.0.0.1:${proxy.port}` };
    const dest = freshDest();
    await downloadFile({ url: `${origin.url}/model.onnx`, dest, expectedSha256: sha(data), ...FAST, env });
    expect(proxySeen[0]!.url).toBe(`${origin.url}/model.onnx`);
    expect(proxySeen[0]!.headers['proxy-authorization']).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    expect(readFileSync(dest).equals(data)).toBe(true);

    // NO_PROXY bypasses it.
    await downloadFile({ url: `${origin.url}/again`, dest: freshDest(), ...FAST, env: { ...env, NO_PROXY: '127.0.0.1' } });
    expect(proxySeen).toHaveLength(1);
  });

  it('tunnels https through CONNECT and speaks TLS to the target (SNI + certificate check)', async () => {
    const origin = await server((req, res) => serveBytes(req, res, data), { cert: TEST_CERT, key: TEST_KEY });
    const connects: { line: string; auth?: string }[] = [];
    const tunnelSockets: net.Socket[] = [];
    const proxyServer = await new Promise<http.Server>((resolveServer) => {
      const srv = http.createServer();
      srv.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
        connects.push({ line: `${req.method} ${req.url}`, auth: req.headers['proxy-authorization'] });
        tunnelSockets.push(client);
        const [host, port] = (req.url ?? '').split(':');
        const upstream = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host!, () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          upstream.write(head);
          upstream.pipe(client);
          client.pipe(upstream);
        });
        tunnelSockets.push(upstream);
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
      });
      srv.listen(0, '127.0.0.1', () => resolveServer(srv));
    });
    cleanups.push(() => new Promise<void>((r) => {
      for (const sock of tunnelSockets) sock.destroy(); // upgraded CONNECT sockets are not the server's to close
      proxyServer.close(() => r());
    }));
    const port = (proxyServer.address() as net.AddressInfo).port;
    const dest = freshDest();
    await downloadFile({ url: `${origin.url}/enc.onnx`, dest, expectedSha256: sha(data), ca: TEST_CERT, ...FAST,
      env: { HTTPS_PROXY: `http://u:pw@127.0.0.1:${port}` } });
    expect(connects[0]!.line).toBe(`CONNECT localhost:${origin.port}`);
    expect(connects[0]!.auth).toBe(`Basic ${Buffer.from('u:pw').toString('base64')}`);
    expect(readFileSync(dest).equals(data)).toBe(true);
    // Without the test CA the tunnelled TLS handshake must fail: the certificate is checked for the target.
    await expect(downloadFile({ url: `${origin.url}/enc.onnx`, dest: freshDest(), ...FAST, retries: 0,
      env: { HTTPS_PROXY: `http://127.0.0.1:${port}` } })).rejects.toThrow(/certificate/);
  });

  it('reports a proxy that refuses CONNECT', async () => {
    const proxyServer = http.createServer();
    proxyServer.on('connect', (_req: http.IncomingMessage, client: net.Socket) => {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
    });
    await new Promise<void>((r) => proxyServer.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => proxyServer.close(() => r())));
    const port = (proxyServer.address() as net.AddressInfo).port;
    await expect(downloadFile({ url: 'https://huggingface.co/x/y/resolve/main/z.onnx', dest: freshDest(), ...FAST,
      env: { HTTPS_PROXY: `http://127.0.0.1:${port}` } })).rejects.toThrow(/refused CONNECT huggingface\.co:443: HTTP 407 \(proxy authentication required/);
  });
});

describe('parseContentRange', () => {
  it('parses ranges and the 416 form', () => {
    expect(parseContentRange('bytes 100-199/1000')).toEqual({ start: 100, total: 1000 });
    expect(parseContentRange('bytes */1000')).toEqual({ start: null, total: 1000 });
    expect(parseContentRange('bytes 0-9/*')).toEqual({ start: 0, total: null });
    expect(parseContentRange('nonsense')).toBeNull();
  });
});

describe('resolveModel', () => {
  const enc = randomBytes(40_000);
  const encData = randomBytes(70_000);
  const dec = randomBytes(20_000);
  const pre = Buffer.from('{"do_pad": true}');

  function testRegistry(shas: { enc?: string | null } = {}): Registry {
    return validateRegistry({
      schemaVersion: 1,
      default: 'tiny-test',
      models: [{
        name: 'tiny-test', description: 'test model', contract: 'hf-sam', family: 'sam1', license: 'Apache-2.0',
        source: 'https://example.invalid', preprocessing: 'none', recommended: { predIouThresh: 0.8 },
        variants: {
          fp32: { files: [
            // the registry demands https; tests swap the scheme below after validation
            { role: 'encoder', url: 'https://x/onnx/vision_encoder.onnx', path: 'onnx/vision_encoder.onnx', size: null, sha256: shas.enc ?? null },
            { role: 'external_data', url: 'https://x/onnx/vision_encoder.onnx_data', path: 'onnx/vision_encoder.onnx_data', size: encData.length, sha256: sha(encData) },
            { role: 'decoder', url: 'https://x/onnx/prompt_encoder_mask_decoder.onnx', path: 'onnx/prompt_encoder_mask_decoder.onnx', size: null, sha256: null },
            { role: 'preprocessor_config', url: 'https://x/preprocessor_config.json', path: 'preprocessor_config.json', size: null, sha256: null },
          ] },
          quantized: { files: [
            { role: 'encoder', url: 'https://x/onnx/vision_encoder_quantized.onnx', path: 'vision_encoder_quantized.onnx', size: null, sha256: null },
            { role: 'decoder', url: 'https://x/onnx/prompt_encoder_mask_decoder_quantized.onnx', path: 'prompt_encoder_mask_decoder_quantized.onnx', size: null, sha256: null },
          ] },
        },
      }],
    }, 'test registry') as Registry;
  }
  /** Points the validated registry's URLs at the local server. */
  function pointAt(reg: Registry, base: string): Registry {
    for (const m of reg.models) for (const v of Object.values(m.variants)) for (const f of v.files) f.url = f.url.replace('https://x', base);
    return reg;
  }
  const files: Record<string, Buffer> = {
    '/onnx/vision_encoder.onnx': enc, '/onnx/vision_encoder.onnx_data': encData,
    '/onnx/prompt_encoder_mask_decoder.onnx': dec, '/preprocessor_config.json': pre,
  };

  it('downloads every file, keeps the sidecar beside its .onnx under its original name, and pins first use', async () => {
    const s = await server((req, res) => (files[req.url!] ? serveBytes(req, res, files[req.url!]!) : res.writeHead(404).end()));
    const cacheDir = join(tmp, 'cache-a');
    const reg = pointAt(testRegistry(), s.url);
    const seen: string[] = [];
    const r = await resolveModel('tiny-test', { registry: reg, cacheDir, ...FAST, onProgress: (f) => seen.push(f) });
    const dir = join(cacheDir, 'models', 'tiny-test', 'fp32');
    expect(r).toMatchObject({
      name: 'tiny-test', contract: 'hf-sam', family: 'sam1', precision: 'fp32', license: 'Apache-2.0',
      encoder: join(dir, 'onnx', 'vision_encoder.onnx'),
      decoder: join(dir, 'onnx', 'prompt_encoder_mask_decoder.onnx'),
      preprocessorConfig: join(dir, 'preprocessor_config.json'),
      recommended: { predIouThresh: 0.8 },
    });
    expect(readFileSync(join(dirname(r.encoder), 'vision_encoder.onnx_data')).equals(encData)).toBe(true);
    expect(new Set(seen)).toEqual(new Set(['tiny-test/onnx/vision_encoder.onnx', 'tiny-test/onnx/vision_encoder.onnx_data',
      'tiny-test/onnx/prompt_encoder_mask_decoder.onnx', 'tiny-test/preprocessor_config.json']));
    const pins = readPins(cacheDir);
    expect(pins[`${s.url}/onnx/vision_encoder.onnx`]).toMatchObject({ sha256: sha(enc), size: enc.length, file: 'models/tiny-test/fp32/onnx/vision_encoder.onnx' });
    expect(pins[`${s.url}/onnx/vision_encoder.onnx_data`]).toBeUndefined(); // the registry vouches for it
    expect(r.files.find((f) => f.role === 'external_data')!.trust).toBe('registry');
    expect(r.files.find((f) => f.role === 'encoder')!.trust).toBe('first-use');

    // A second resolve uses the cache: no new requests.
    const before = s.seen.length;
    await resolveModel('tiny-test', { registry: reg, cacheDir, ...FAST });
    expect(s.seen.length).toBe(before);
  });

  it('enforces a first-use pin: different bytes on a later download are refused and deleted', async () => {
    let swapped = false;
    const other = randomBytes(enc.length);
    const s = await server((req, res) => {
      const body = req.url === '/onnx/vision_encoder.onnx' && swapped ? other : files[req.url!];
      if (body) serveBytes(req, res, body);
      else res.writeHead(404).end();
    });
    const cacheDir = join(tmp, 'cache-b');
    const reg = pointAt(testRegistry(), s.url);
    const r = await resolveModel('tiny-test', { registry: reg, cacheDir, ...FAST });
    rmSync(r.encoder);
    swapped = true;
    await expect(resolveModel('tiny-test', { registry: reg, cacheDir, ...FAST }))
      .rejects.toThrow(new RegExp(`sha256 mismatch .*expected ${sha(enc)} \\(the first-use pin in .*pins\\.json\\), actual ${sha(other)}`));
    expect(existsSync(r.encoder)).toBe(false);
    expect(existsSync(`${r.encoder}.part`)).toBe(false);
  });

  it('a registry sha256 wins over a first-use pin', async () => {
    const s = await server((req, res) => (files[req.url!] ? serveBytes(req, res, files[req.url!]!) : res.writeHead(404).end()));
    const cacheDir = join(tmp, 'cache-c');
    await resolveModel('tiny-test', { registry: pointAt(testRegistry(), s.url), cacheDir, ...FAST });
    const wrong = 'cd'.repeat(32);
    const reg = pointAt(testRegistry({ enc: wrong }), s.url);
    // The cached file matches its pin, but the registry now says otherwise: --verify re-hashes and re-downloads.
    await expect(resolveModel('tiny-test', { registry: reg, cacheDir, verify: true, ...FAST }))
      .rejects.toThrow(new RegExp(`expected ${wrong} \\(the registry\\)`));
  });

  it('offline: names the missing file, its expected path and URL, and how to supply it; never connects', async () => {
    const s = await server((_req, res) => res.writeHead(500).end());
    const cacheDir = join(tmp, 'cache-d');
    const reg = pointAt(testRegistry(), s.url);
    const enc = join(cacheDir, 'models', 'tiny-test', 'quantized', 'vision_encoder_quantized.onnx');
    mkdirSync(dirname(enc), { recursive: true });
    writeFileSync(enc, 'x');
    const err = await resolveModel('tiny-test', { registry: reg, cacheDir, precision: 'q8', env: { SAM_AMG_OFFLINE: '1' } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const msg = (err as Error).message;
    expect(msg).toContain(`decoder prompt_encoder_mask_decoder_quantized.onnx (expected at ${join(cacheDir, 'models', 'tiny-test', 'quantized', 'prompt_encoder_mask_decoder_quantized.onnx')}; download from ${s.url}/onnx/prompt_encoder_mask_decoder_quantized.onnx)`);
    expect(msg).toContain('--encoder/--decoder');
    expect(msg).not.toContain('vision_encoder_quantized.onnx (expected');
    expect(msg).not.toContain('\n');
    expect(s.seen).toHaveLength(0);
  });

  it('unknown model and unknown precision list the valid choices', async () => {
    const reg = testRegistry();
    await expect(resolveModel('nope', { registry: reg, cacheDir: join(tmp, 'cache-e') })).rejects.toThrow("unknown model 'nope'; known models: tiny-test");
    await expect(resolveModel('tiny-test', { registry: reg, precision: 'int4', cacheDir: join(tmp, 'cache-e') }))
      .rejects.toThrow("model 'tiny-test' has no precision 'int4'; it has: fp32, quantized");
  });

  it('keeps registry paths inside the cache', () => {
    const reg = testRegistry();
    reg.models[0]!.variants.fp32!.files[0]!.path = '../../escape.onnx';
    expect(() => planVariant('tiny-test', { registry: reg, cacheDir: join(tmp, 'cache-f') })).toThrow(/unsafe file path/);
  });
});
