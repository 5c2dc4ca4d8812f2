/** The packaged models/registry.json and the registry validator. */
import { describe, expect, it } from 'vitest';
import { posix } from 'node:path';
import {
  CONTRACTS, checkRelativePath, defaultPrecision, findModel, hfRevision, loadRegistry, selectPrecision, urlBaseName,
  validateRegistry, type Registry,
} from '../src/registry/registry.js';
import { DEFAULT_AMG_OPTIONS } from '../src/pipeline/options.js';

const reg = loadRegistry();
const allFiles = reg.models.flatMap((m) => Object.entries(m.variants).flatMap(([p, v]) => v.files.map((f) => ({ model: m, precision: p, file: f }))));

describe('packaged registry', () => {
  it('validates', () => {
    expect(reg.schemaVersion).toBe(1);
    expect(reg.models.length).toBeGreaterThanOrEqual(16);
  });

  it('has unique model names', () => {
    const names = reg.models.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('uses https everywhere, and every Hugging Face URL is /resolve/<revision>/', () => {
    for (const { file } of allFiles) {
      const u = new URL(file.url);
      expect(u.protocol, file.url).toBe('https:');
      if (u.hostname === 'huggingface.co') {
        const rev = hfRevision(file.url);
        expect(rev, file.url).toMatch(/^([0-9a-f]{40}|main)$/);
      }
    }
  });

  it('pins the default model, sam2.1-hiera-tiny, to revision 814a066…', () => {
    expect(reg.default).toBe('sam2.1-hiera-tiny');
    const m = findModel(reg, reg.default);
    expect(m.contract).toBe('hf-sam2');
    expect(m.family).toBe('sam2');
    expect(m.license).toBe('Apache-2.0');
    expect(m.recommended).toEqual({ predIouThresh: 0.8 });
    for (const v of Object.values(m.variants)) {
      for (const f of v.files) expect(hfRevision(f.url)).toBe('814a066640debee5a91e70aa401fb8e17e030503');
    }
    const base = 'https://huggingface.co/onnx-community/sam2.1-hiera-tiny-ONNX/resolve/814a066640debee5a91e70aa401fb8e17e030503';
    expect(m.variants.fp32!.files.map((f) => f.url)).toEqual([
      `${base}/onnx/vision_encoder.onnx`, `${base}/onnx/prompt_encoder_mask_decoder.onnx`, `${base}/preprocessor_config.json`,
    ]);
    expect(Object.keys(m.variants)).toEqual(['fp32', 'fp16', 'quantized', 'int8', 'uint8', 'q4']);
    expect(m.variants.q4!.files[0]!.url).toBe(`${base}/onnx/vision_encoder_q4.onnx`);
    expect(defaultPrecision(m)).toBe('fp32');
  });

  it('covers the model families of the spec', () => {
    const names = reg.models.map((m) => m.name);
    for (const n of ['sam2.1-hiera-small', 'sam2.1-hiera-base-plus', 'sam2.1-hiera-large', 'slimsam-77', 'slimsam-50',
      'sam-vit-b', 'sam-vit-l', 'sam-vit-h', 'sam-vit-b-sx', 'sam-vit-l-sx', 'sam-vit-h-sx', 'mobilesam-sx',
      'sam2.1-hiera-tiny-sx', 'sam2.1-hiera-small-sx', 'sam2.1-hiera-base-plus-sx', 'sam2.1-hiera-large-sx']) {
      expect(names).toContain(n);
    }
    expect(new Set(reg.models.map((m) => m.contract))).toEqual(new Set(CONTRACTS));
    expect(defaultPrecision(findModel(reg, 'sam-vit-h-sx'))).toBe('quantized');
  });

  it('keeps external data beside its .onnx under the original name (ViT-H)', () => {
    const files = findModel(reg, 'sam-vit-h').variants.fp32!.files;
    const data = files.find((f) => f.role === 'external_data')!;
    const enc = files.find((f) => f.role === 'encoder')!;
    expect(data.path).toBe('vision_encoder.onnx_data');
    expect(urlBaseName(data.url)).toBe(data.path);
    expect(posix.dirname(data.path)).toBe(posix.dirname(enc.path));
  });

  it('recommends only real generator options, and file hashes are hex or null', () => {
    for (const m of reg.models) for (const k of Object.keys(m.recommended)) expect(Object.keys(DEFAULT_AMG_OPTIONS)).toContain(k);
    for (const { file } of allFiles) {
      if (file.sha256 !== null) expect(file.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(() => checkRelativePath(file.path)).not.toThrow();
    }
  });
});

describe('validateRegistry', () => {
  const good = (): Registry => JSON.parse(JSON.stringify({
    schemaVersion: 1, default: 'a',
    models: [{
      name: 'a', description: 'd', contract: 'hf-sam', family: 'sam1', license: 'MIT', source: 's', preprocessing: 'p',
      recommended: {}, variants: { fp32: { files: [
        { role: 'encoder', url: 'https://h/e.onnx', path: 'e.onnx', size: null, sha256: null },
        { role: 'decoder', url: 'https://h/d.onnx', path: 'd.onnx', size: 12, sha256: null },
      ] } },
    }],
  }));

  it('accepts a minimal registry', () => {
    expect(validateRegistry(good()).models[0]!.name).toBe('a');
  });

  it.each([
    ['unsafe path', (r: any) => { r.models[0].variants.fp32.files[0].path = '../x.onnx'; }, /unsafe file path '\.\.\/x\.onnx'/],
    ['absolute path', (r: any) => { r.models[0].variants.fp32.files[0].path = '/etc/x'; }, /unsafe file path/],
    ['http URL', (r: any) => { r.models[0].variants.fp32.files[0].url = 'http://h/e.onnx'; }, /url must be an https URL/],
    ['bad sha', (r: any) => { r.models[0].variants.fp32.files[0].sha256 = 'XYZ'; }, /sha256 must be 64 lower-case hex/],
    ['no decoder', (r: any) => { r.models[0].variants.fp32.files.pop(); }, /needs exactly one decoder/],
    ['duplicate names', (r: any) => { r.models.push(r.models[0]); }, /duplicate model names: a/],
    ['unknown default', (r: any) => { r.default = 'zzz'; }, /default must name a listed model/],
    ['bad contract', (r: any) => { r.models[0].contract = 'x'; }, /contract must be one of/],
    ['bad recommended key', (r: any) => { r.models[0].recommended = { predIou: 1 }; }, /recommended\.predIou is not a generator option/],
    ['renamed external data', (r: any) => {
      r.models[0].variants.fp32.files.push({ role: 'external_data', url: 'https://h/e.onnx_data', path: 'renamed.bin', size: null, sha256: null });
    }, /must keep its original name \(e\.onnx_data\)/],
    ['external data elsewhere', (r: any) => {
      r.models[0].variants.fp32.files.push({ role: 'external_data', url: 'https://h/e.onnx_data', path: 'sub/e.onnx_data', size: null, sha256: null });
    }, /must sit in the same folder as its \.onnx/],
  ])('rejects %s with a one-line message', (_name, mutate, re) => {
    const r = good();
    mutate(r);
    let msg = '';
    try {
      validateRegistry(r, 'test.json');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^invalid model registry test\.json: /);
    expect(msg).toMatch(re);
    expect(msg).not.toContain('\n');
  });
});

describe('look-ups', () => {
  it('selects precisions with aliases and lists the valid ones otherwise', () => {
    const m = findModel(reg, 'slimsam-77');
    expect(selectPrecision(m)).toBe('fp32');
    expect(selectPrecision(m, 'q8')).toBe('quantized');
    expect(selectPrecision(m, 'QUANTIZED')).toBe('quantized');
    expect(() => selectPrecision(m, 'q4')).toThrow("model 'slimsam-77' has no precision 'q4'; it has: fp32, quantized");
    expect(() => findModel(reg, 'sam3')).toThrow(/unknown model 'sam3'; known models: sam2\.1-hiera-tiny, /);
  });

  it('reads Hugging Face revisions from URLs', () => {
    expect(hfRevision('https://huggingface.co/a/b/resolve/main/x.onnx')).toBe('main');
    expect(hfRevision('https://github.com/a/b/releases/download/v1/x.onnx')).toBeNull();
  });
});
