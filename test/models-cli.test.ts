/** `sam-amg models ...` run in-process through registerModelsCommand on a fresh commander program. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerModelsCommand, formatBytes, type ModelsCommandContext } from '../src/cli/models-command.js';
import { GraphBuilder } from '../src/model/onnx/builder.js';
import { recordPin } from '../src/registry/pins.js';
import { loadRegistry, validateRegistry, type Registry } from '../src/registry/registry.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Runs `sam-amg <args>` in-process; returns exit code and captured output. */
async function cli(args: string[], ctx: ModelsCommandContext = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let code: number | undefined;
  const program = new Command('sam-amg')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => err.push(s) });
  registerModelsCommand(program, {
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    setExitCode: (c) => (code = c),
    ...ctx,
  });
  try {
    await program.parseAsync(['node', 'sam-amg', ...args]);
  } catch (e) {
    const c = (e as { code?: string }).code ?? '';
    code = c === 'commander.helpDisplayed' ? 0 : 2;
  }
  return { code, stdout: out.join(''), stderr: err.join('') };
}

let home: string;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'sam-amg-cli-'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** A separate empty cache per test. */
function freshHome(name: string): string {
  const dir = join(home, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe('models list', () => {
  it('lists names, contract, license and marks the default', async () => {
    const r = await cli(['models', 'list'], { env: { SAM_AMG_HOME: freshHome('list') } });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/NAME\s+CONTRACT\s+FAMILY\s+PRECISIONS\s+CACHED\s+LICENSE/);
    const tiny = lines.find((l) => / sam2\.1-hiera-tiny /.test(l))!;
    expect(tiny).toMatch(/^\* sam2\.1-hiera-tiny\s+hf-sam2\s+sam2\s+fp32,fp16,quantized,int8,uint8,q4\s+-\s+Apache-2\.0$/);
    expect(lines.find((l) => / mobilesam-sx /.test(l))).toMatch(/^\s+mobilesam-sx\s+sx-sam1\+meta-decoder\s+sam1\s/);
    expect(r.stdout).toContain('* default model');
  });

  it('prints JSON with --json, including what is cached', async () => {
    const h = freshHome('list-json');
    const dir = join(h, 'models', 'slimsam-77', 'quantized');
    mkdirSync(dir, { recursive: true });
    for (const f of ['vision_encoder_quantized.onnx', 'prompt_encoder_mask_decoder_quantized.onnx', 'preprocessor_config.json']) writeFileSync(join(dir, f), 'x');
    const r = await cli(['models', 'list', '--json'], { env: { SAM_AMG_HOME: h } });
    const list = JSON.parse(r.stdout) as { name: string; default: boolean; cached: string[] }[];
    expect(list.find((m) => m.default)!.name).toBe('sam2.1-hiera-tiny');
    expect(list.find((m) => m.name === 'slimsam-77')!.cached).toEqual(['quantized']);
  });
});

describe('models path', () => {
  function populate(h: string, precision = 'fp32', suffix = '') {
    const dir = join(h, 'models', 'slimsam-77', precision);
    mkdirSync(dir, { recursive: true });
    for (const f of [`vision_encoder${suffix}.onnx`, `prompt_encoder_mask_decoder${suffix}.onnx`, 'preprocessor_config.json']) {
      writeFileSync(join(dir, f), f);
    }
    return dir;
  }

  it('prints the cached paths in offline mode', async () => {
    const h = freshHome('path');
    const dir = populate(h);
    const env = { SAM_AMG_HOME: h, SAM_AMG_OFFLINE: '1' };
    const r = await cli(['models', 'path', 'slimsam-77'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe([
      `encoder\t${join(dir, 'vision_encoder.onnx')}`,
      `decoder\t${join(dir, 'prompt_encoder_mask_decoder.onnx')}`,
      `preprocessor_config\t${join(dir, 'preprocessor_config.json')}`,
    ].join('\n') + '\n');
    const enc = await cli(['models', 'path', 'slimsam-77', '--role', 'encoder'], { env });
    expect(enc.stdout).toBe(`${join(dir, 'vision_encoder.onnx')}\n`);
    const q = populate(h, 'quantized', '_quantized');
    const q8 = await cli(['models', 'path', 'slimsam-77', '-p', 'q8', '--role', 'decoder'], { env });
    expect(q8.stdout).toBe(`${join(q, 'prompt_encoder_mask_decoder_quantized.onnx')}\n`);
  });

  it('names the missing file, its path and URL when the cache is incomplete', async () => {
    const h = freshHome('path-missing');
    const r = await cli(['models', 'path', 'sam-vit-h'], { env: { SAM_AMG_HOME: h, SAM_AMG_OFFLINE: '1' } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^sam-amg: error: model 'sam-vit-h' \(fp32\) is not in the cache: missing encoder .*vision_encoder\.onnx \(from https:\/\/huggingface\.co\/Xenova\/sam-vit-huge\/resolve\/[0-9a-f]{40}\/onnx\/vision_encoder\.onnx\); external_data .*vision_encoder\.onnx_data/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('rejects an unknown model and precision with exit code 2', async () => {
    const r = await cli(['models', 'path', 'nope'], { env: { SAM_AMG_HOME: freshHome('unknown') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^sam-amg: error: unknown model 'nope'; known models: sam2\.1-hiera-tiny, /);
    const p = await cli(['models', 'path', 'slimsam-77', '-p', 'q4'], { env: { SAM_AMG_HOME: freshHome('unknown') } });
    expect(p.stderr).toBe("sam-amg: error: model 'slimsam-77' has no precision 'q4'; it has: fp32, quantized\n");
  });
});

describe('models info', () => {
  it('--io prints the inputs and outputs of an ONNX file', async () => {
    const b = new GraphBuilder('io_test');
    const x = b.input('pixel_values', 'float32', ['batch_size', 3, 1024, 1024]);
    const labels = b.input('input_labels', 'int64', [1, 'point_batch_size', 'nb_points_per_image']);
    b.identity(x, 'image_embeddings');
    b.identity(labels, 'labels_out');
    b.output('image_embeddings', 'float32', ['batch_size', 3, 1024, 1024]);
    b.output('labels_out', 'int64', null);
    const file = join(freshHome('io'), 'm.onnx');
    writeFileSync(file, b.toBytes());
    const r = await cli(['models', 'info', '--io', file]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe(`${file}: 2 input(s), 2 output(s)`);
    expect(lines[1]).toBe('inputs:');
    expect(lines[2]).toMatch(/^ {2}pixel_values\s+float32\s+\["batch_size",3,1024,1024\]$/);
    expect(lines[3]).toMatch(/^ {2}input_labels\s+int64\s+\[1,"point_batch_size","nb_points_per_image"\]$/);
    expect(lines[4]).toBe('outputs:');
    expect(lines[5]).toMatch(/^ {2}image_embeddings\s+float32\s+\["batch_size",3,1024,1024\]$/);
    expect(lines[6]).toMatch(/^ {2}labels_out\s+int64\s+\?$/);
  });

  it('--io on a missing or non-ONNX file is a one-line error', async () => {
    const r = await cli(['models', 'info', '--io', '/nonexistent/x.onnx']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('sam-amg: error: cannot read /nonexistent/x.onnx: no such file\n');
    const bad = join(freshHome('io-bad'), 'bad.onnx');
    writeFileSync(bad, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect((await cli(['models', 'info', '--io', bad])).stderr).toMatch(/^sam-amg: error: .*bad\.onnx is not an ONNX model: /);
    expect((await cli(['models', 'info'])).stderr).toMatch(/missing model name \(or --io FILE\)/);
  });

  it('shows each file as pinned by the registry, pinned on first use, or unpinned', async () => {
    const h = freshHome('info');
    const reg = loadRegistry();
    const decUrl = reg.models.find((m) => m.name === 'sam-vit-h')!.variants.fp32!.files.find((f) => f.role === 'decoder')!.url;
    recordPin(h, decUrl, { sha256: 'ab'.repeat(32), size: 123, file: 'models/sam-vit-h/fp32/prompt_encoder_mask_decoder.onnx', pinnedAt: '2026-01-02T03:04:05.000Z' });
    const r = await cli(['models', 'info', 'sam-vit-h', '-p', 'fp32'], { env: { SAM_AMG_HOME: h } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sam-vit-h: Segment Anything ViT-H/);
    expect(r.stdout).toContain('contract:      hf-sam (family sam1)');
    expect(r.stdout).toContain('source:        https://huggingface.co/Xenova/sam-vit-huge @ 8704dda8804642741a16aa07f3e282d9dbf2a86f');
    expect(r.stdout).toContain('sha256: pinned by registry (sha256 e452133f5d9dec76ba7d518a3690e5989e13f894ab07d561c38180a692ab353a)');
    expect(r.stdout).toContain(`sha256: pinned on first use 2026-01-02T03:04:05.000Z (sha256 ${'ab'.repeat(32)}, 123 bytes, in ${join(h, 'pins.json')})`);
    expect(r.stdout).toContain('sha256: unpinned (the first download records its sha256)');
    expect(r.stdout).toContain("run 'sam-amg models pin sam-vit-h'");
    expect(r.stdout).not.toContain('precision quantized');
  });
});

describe('models pull and pin (local server)', () => {
  const enc = randomBytes(30_000);
  const dec = randomBytes(10_000);
  let server: http.Server;
  let base: string;
  let registry: Registry;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const body = req.url === '/enc.onnx' ? enc : req.url === '/dec.onnx' ? dec : null;
      if (!body) return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    registry = validateRegistry({
      schemaVersion: 1, default: 'local',
      models: [{
        name: 'local', description: 'served locally', contract: 'sx-sam2', family: 'sam2', license: 'Apache-2.0',
        source: 'https://example.invalid', preprocessing: 'stretch', recommended: { predIouThresh: 0.8 },
        variants: { fp32: { files: [
          { role: 'encoder', url: 'https://placeholder/enc.onnx', path: 'enc.onnx', size: null, sha256: null },
          { role: 'decoder', url: 'https://placeholder/dec.onnx', path: 'dec.onnx', size: dec.length, sha256: sha(dec) },
        ] } },
      }],
    });
    for (const f of registry.models[0]!.variants.fp32!.files) f.url = f.url.replace('https://placeholder', base);
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('pull downloads with plain progress lines, then path and pin work', async () => {
    const h = freshHome('pull');
    const ctx: ModelsCommandContext = { registry, env: { SAM_AMG_HOME: h }, download: { retryDelayMs: 1 } };
    const r = await cli(['models', 'pull', 'local'], ctx);
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`sam-amg: downloading local/enc.onnx (${formatBytes(enc.length)})`);
    expect(r.stderr).toContain('sam-amg: local/enc.onnx: done');
    expect(r.stderr).toContain(`sam-amg: local (fp32) ready in ${join(h, 'models', 'local', 'fp32')}`);
    expect(r.stdout).toContain(`encoder\t${join(h, 'models', 'local', 'fp32', 'enc.onnx')}\t30.0 kB\tsha256 ${sha(enc)} (pinned on first use)`);
    expect(r.stdout).toContain(`sha256 ${sha(dec)} (registry)`);

    const p = await cli(['models', 'path', 'local', '--role', 'encoder'], { ...ctx, env: { ...ctx.env, SAM_AMG_OFFLINE: '1' } });
    expect(p.stdout).toBe(`${join(h, 'models', 'local', 'fp32', 'enc.onnx')}\n`);

    const pin = await cli(['models', 'pin', 'local'], ctx);
    expect(pin.code).toBe(0);
    expect(JSON.parse(pin.stdout)).toEqual({ fp32: { files: [
      { role: 'encoder', url: `${base}/enc.onnx`, path: 'enc.onnx', size: enc.length, sha256: sha(enc) },
      { role: 'decoder', url: `${base}/dec.onnx`, path: 'dec.onnx', size: dec.length, sha256: sha(dec) },
    ] } });

    const info = await cli(['models', 'info', 'local'], ctx);
    expect(info.stdout).toContain(`sha256: pinned on first use`);
    expect(info.stdout).toContain(`(sha256 ${sha(enc)}, ${enc.length} bytes`);
  });

  it('pin with nothing cached is an error', async () => {
    const r = await cli(['models', 'pin', 'local'], { registry, env: { SAM_AMG_HOME: freshHome('pin-empty') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("sam-amg: error: nothing of 'local' is cached; run 'sam-amg models pull local' first\n");
  });

  it('pull in offline mode does not connect and says what is missing', async () => {
    const h = freshHome('pull-offline');
    const r = await cli(['models', 'pull', 'local', '--offline'], { registry, env: { SAM_AMG_HOME: h } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`encoder enc.onnx (expected at ${join(h, 'models', 'local', 'fp32', 'enc.onnx')}; download from ${base}/enc.onnx)`);
  });
});
