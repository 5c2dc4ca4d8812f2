/**
 * `npm run bench -- [options]`: per-stage timings of the whole pipeline on real photos.
 *
 * Defaults: the photos of ../shared/bench-photos, the reference generator defaults (32×32 grid), and a
 * fixture model pair generated into the cache: `--fixture oracle` (default; colour-region masks, so a
 * realistic number of masks passes the filters and the post-processing stages do real work, but its
 * decoder is far cheaper than SAM's) or `--fixture random` (random weights with the real decoder's
 * operators at width `--dim`, 256 = SAM's: realistic decoder cost, but its random IoUs keep no masks).
 * Stages: image decode, preprocess (PIL-exact resize + normalise), encoder, decoder, upscale+filters+RLE
 * (the fused mask pass, NMS, cleanup), COCO encoding (compressed RLE strings + JSON). A benchmark, not a
 * test: it asserts nothing; compare ratios measured in one run.
 *
 * Options: --encoder F --decoder F (any SAM 1 split pair), --fixture oracle|random, --photos DIR, --limit N, --points-per-side N,
 *          --points-per-batch N, --dim N (fixture width), --threads N, --compare-prune (also time the
 *          unpruned decoder on the first photo).
 */
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cocoAnnotation } from '../src/io/coco-writer.js';
import { decodeImageFile } from '../src/io/image.js';
import { cacheRoot } from '../src/model/cache-dir.js';
import { Sam1Model } from '../src/model/sam1.js';
import { MaskGenerator } from '../src/pipeline/generator.js';
import { writeFixtures } from '../test/fixtures/index.js';

const { values: args } = parseArgs({
  options: {
    encoder: { type: 'string' },
    decoder: { type: 'string' },
    photos: { type: 'string' },
    limit: { type: 'string' },
    'points-per-side': { type: 'string', default: '32' },
    'points-per-batch': { type: 'string', default: '64' },
    dim: { type: 'string', default: '256' },
    fixture: { type: 'string', default: 'oracle' },
    threads: { type: 'string', default: '0' },
    'compare-prune': { type: 'boolean', default: false },
  },
});

const here = new URL('.', import.meta.url).pathname;
// Works from bench/ (tsx) and dist/bench/ (compiled).
const repo = existsSync(join(here, '..', 'package.json')) ? join(here, '..') : join(here, '..', '..');

async function modelFiles(): Promise<{ encoder: string; decoder: string; label: string }> {
  if (args.encoder && args.decoder) return { encoder: resolve(args.encoder), decoder: resolve(args.decoder), label: 'user models' };
  const dim = Number(args.dim);
  const dir = join(cacheRoot(), 'bench-fixtures');
  mkdirSync(dir, { recursive: true });
  if (args.fixture === 'oracle') {
    const p = await writeFixtures(dir, ['oracle-encoder-hwc', 'oracle-decoder-m4']);
    return { encoder: p['oracle-encoder-hwc']!, decoder: p['oracle-decoder-m4']!, label: 'oracle fixture (colour regions)' };
  }
  if (args.fixture !== 'random') throw new Error(`--fixture must be oracle or random, not ${args.fixture}`);
  const paths = await writeFixtures(dir, { randomDim: dim, which: ['random-encoder-hwc', 'random-decoder-m4'] });
  return { encoder: paths['random-encoder-hwc']!, decoder: paths['random-decoder-m4']!, label: `random-weights fixture, dim ${dim}` };
}

const ms = (v: number) => v.toFixed(0).padStart(8);

async function main() {
  const photosDir = resolve(args.photos ?? join(repo, '..', 'shared', 'bench-photos'));
  if (!existsSync(photosDir)) {
    console.error(`bench: no photos at ${photosDir} (pass --photos DIR)`);
    process.exit(2);
  }
  let photos = readdirSync(photosDir).filter((f) => /\.(jpe?g|png|webp)$/i.test(f)).sort();
  if (args.limit) photos = photos.slice(0, Number(args.limit));
  const files = await modelFiles();
  const pps = Number(args['points-per-side']);
  const ppb = Number(args['points-per-batch']);
  const threads = Number(args.threads);
  const model = await Sam1Model.load({ ...files, threads, promptsPerCall: ppb });
  const gen = new MaskGenerator(model, { pointsPerSide: pps, pointsPerBatch: ppb });
  console.log(`model: ${files.label} (${model.info.contract}; ${JSON.stringify(model.info.details)})`);
  console.log(`grid ${pps}×${pps}, ${ppb} prompts per batch requested, ${model.info.promptsPerCall} per decoder call; threads ${threads || 'default'}`);
  console.log('');
  console.log('photo                          size         decode  preproc  encoder  decoder  upscale+  coco+json  masks   total (ms)');
  console.log('                                                                                filters');
  const tot = { decode: 0, pre: 0, enc: 0, dec: 0, post: 0, write: 0, masks: 0, total: 0, calls: 0, upscaled: 0 };
  for (const p of photos) {
    const t0 = performance.now();
    const img = await decodeImageFile(join(photosDir, p));
    const tDecode = performance.now() - t0;
    const s0 = { ...model.stats };
    const calls0 = model.stats.decoderCalls;
    const g0 = { ...gen.times };
    const records = await gen.generate(img);
    const t1 = performance.now();
    let bytes = 0;
    records.forEach((r, i) => (bytes += JSON.stringify(cocoAnnotation(r, i + 1, 1)).length));
    const tWrite = performance.now() - t1;
    const pre = model.stats.preprocessMs - s0.preprocessMs;
    const enc = model.stats.encoderMs - s0.encoderMs;
    const dec = model.stats.decoderMs - s0.decoderMs;
    const post = gen.times.postprocess - g0.postprocess;
    const total = performance.now() - t0;
    tot.decode += tDecode; tot.pre += pre; tot.enc += enc; tot.dec += dec; tot.post += post; tot.write += tWrite;
    tot.masks += records.length; tot.total += total;
    console.log(
      `${p.padEnd(30)} ${`${img.width}×${img.height}`.padEnd(11)}${ms(tDecode)} ${ms(pre)} ${ms(enc)} ${ms(dec)} ${ms(post)}  ${ms(tWrite)} ${String(records.length).padStart(6)} ${ms(total)}`,
    );
    void bytes;
    tot.calls += model.stats.decoderCalls - calls0;
    tot.upscaled += gen.times.upscaled - g0.upscaled;
  }
  const n = photos.length;
  console.log(
    `${'mean per image'.padEnd(42)}${ms(tot.decode / n)} ${ms(tot.pre / n)} ${ms(tot.enc / n)} ${ms(tot.dec / n)} ${ms(tot.post / n)}  ${ms(tot.write / n)} ${(tot.masks / n).toFixed(1).padStart(6)} ${ms(tot.total / n)}`,
  );
  const share = (v: number) => `${((100 * v) / tot.total).toFixed(1)}%`;
  console.log(
    `\nshare of time: decode ${share(tot.decode)}, preprocess ${share(tot.pre)}, encoder ${share(tot.enc)}, decoder ${share(tot.dec)}, ` +
      `upscale+filters ${share(tot.post)}, coco+json ${share(tot.write)}; ${(n / (tot.total / 1000)).toFixed(3)} images/s`,
  );
  console.log(
    `decoder: ${tot.calls} calls, ${(tot.dec / Math.max(1, tot.calls)).toFixed(2)} ms per call; ` +
      `upscale+filters: ${tot.upscaled} candidates upscaled, ${(tot.post / Math.max(1, tot.upscaled)).toFixed(2)} ms per candidate`,
  );
  await model.dispose();

  if (args['compare-prune']) {
    const first = await decodeImageFile(join(photosDir, photos[0]!));
    const timeDecoder = async (noPrune: boolean) => {
      const m = await Sam1Model.load({ ...files, threads, promptsPerCall: 1, noPrune });
      const enc = await m.encode(first.data, first.height, first.width);
      const pts = new Float64Array(64);
      for (let i = 0; i < 32; i++) { pts[2 * i] = ((i % 8) + 0.5) * first.width / 8; pts[2 * i + 1] = (Math.floor(i / 8) + 0.5) * first.height / 4; }
      await m.decode(enc, pts.subarray(0, 4));
      const t = performance.now();
      await m.decode(enc, pts);
      const per = (performance.now() - t) / 32;
      await m.dispose();
      return per;
    };
    const pruned = await timeDecoder(false);
    const full = await timeDecoder(true);
    console.log(`\ndecoder call, one prompt, ${first.width}×${first.height}: pruned ${pruned.toFixed(1)} ms, as exported ${full.toFixed(1)} ms (×${(full / pruned).toFixed(2)})`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
