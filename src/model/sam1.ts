/**
 * Adapter for the SAM 1 split contract: a samexporter-style encoder (`input_image`, HWC 0..255, or a plain
 * `[1,3,1024,1024]` normalised tensor) plus Meta's `SamOnnxModel` decoder export. Covers SAM ViT-B/L/H,
 * MobileSAM and every user-exported official decoder (`../shared/spec/model-contracts.md` §1–2).
 *
 * Preprocessing follows the reference predictor exactly: resize so the longest side is 1024 with PIL's
 * antialiased bilinear, RGB, (x - mean) / std, zero-pad bottom/right. Prompts are single points in the resized
 * frame (`apply_coords`) with the padding point (0,0)/−1 appended, as `SamPredictor` does.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { batchMatchesSingles, readModelFile } from './batch-check.js';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { getPreprocessShape, applyCoords } from '../amg/transforms.js';
import { resizeBilinearPil } from '../amg/resize.js';
import { normalizePadChw, toFloatHwc, SAM1_PIXEL_MEAN, SAM1_PIXEL_STD } from '../amg/preprocess.js';
import { prepareDecoder, type PreparedDecoder } from './onnx/decoder-prep.js';
import { createSession, createSessionOn, describeIo, inputShape, type RuntimeOptions } from './session.js';
import { emptyModelStats, type DecodedMasks, type DecodeOptions, type EncodedImage, type MaskModel, type ModelInfo } from './types.js';

/** Side of the square the SAM 1 image encoder sees. */
export const SAM1_IMAGE_SIZE = 1024;
/** Side of SAM's low-res mask logits. */
export const LOW_RES_SIZE = 256;

const DECODER_INPUTS = ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size'];

export interface Sam1LoadOptions extends RuntimeOptions {
  encoder: string;
  decoder: string;
  /** Prompts the pipeline would like per decoder call; >1 tries to make a fixed batch dim dynamic. */
  promptsPerCall?: number;
  /** Keep the decoder graph as exported (for measuring what pruning saves). Default false. */
  noPrune?: boolean;
  /** Directory for pruned decoders (content-addressed). Default: none, prune in memory. */
  cacheDir?: string;
}

interface Sam1State {
  embeddings: ort.Tensor;
}

type EncoderLayout = 'hwc' | 'plain';

export class Sam1Model implements MaskModel {
  readonly info: ModelInfo;
  readonly stats = emptyModelStats();

  private constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    private readonly layout: EncoderLayout,
    private readonly tokens: number,
    private readonly batch: number,
    details: Record<string, string | number | boolean>,
  ) {
    this.info = {
      contract: 'sx-sam1+meta-decoder',
      family: 'sam1',
      promptsPerCall: batch,
      acceptsMaskInput: true,
      details: { encoderLayout: layout, masksPerCall: tokens, ...details },
    };
  }

  /** Loads and checks both files; throws an error naming the file and what is wrong. */
  static async load(opts: Sam1LoadOptions): Promise<Sam1Model> {
    const { session: encoder, device } = await createSessionOn(opts.encoder, opts.encoder, opts);
    // The decoder runs where the encoder landed (`auto` resolves once).
    opts = { ...opts, device };
    const layout = detectEncoderLayout(encoder, opts.encoder);
    const decoderBytes = readModelFile(opts.decoder);
    const prepared = prepareDecoder(decoderBytes, {
      label: opts.decoder,
      requiredInputs: DECODER_INPUTS,
      keepOutputs: opts.noPrune ? null : ['iou_predictions', 'low_res_masks'],
      batchInputs: ['point_coords', 'point_labels'],
      batchOutputs: ['iou_predictions', 'low_res_masks'],
      wantDynamicBatch: (opts.promptsPerCall ?? 1) > 1,
    });
    const details: Record<string, string | number | boolean> = { device, pruned: !opts.noPrune };
    let batch = 1;
    let decoder: ort.InferenceSession | null = null;
    if (prepared.dynamic) {
      const dyn = await createSession(cached(prepared.dynamic, 'dyn', opts.cacheDir), opts.decoder, opts, true);
      const ok = await verifyBatching(dyn);
      details.dynamicBatch = ok === true ? 'verified' : `rejected (${ok})`;
      if (ok === true) {
        decoder = dyn;
        batch = Math.max(1, opts.promptsPerCall ?? 1);
      } else {
        await dyn.release();
      }
    }
    if (decoder === null) {
      decoder = await createSession(cached(prepared.fixed, 'fixed', opts.cacheDir), opts.decoder, opts);
    }
    // Exports do not always declare the token count statically; then one probe call tells.
    const tokens = Number.isFinite(prepared.maskTokens) ? prepared.maskTokens : await probeTokens(decoder);
    if (tokens !== 1 && tokens !== 4) {
      await decoder.release();
      await encoder.release();
      throw new Error(`${opts.decoder}: expected 1 or 4 mask tokens in iou_predictions, found ${tokens}`);
    }
    return new Sam1Model(encoder, decoder, layout, tokens, batch, details);
  }

  async encode(rgb: Uint8Array, height: number, width: number): Promise<EncodedImage> {
    const [inputH, inputW] = getPreprocessShape(height, width, SAM1_IMAGE_SIZE);
    if (inputH < 1 || inputW < 1) {
      throw new Error(`image of ${width}×${height} px is too elongated: it resizes to ${inputW}×${inputH} at 1024 px`);
    }
    let t = performance.now();
    const resized = resizeBilinearPil(rgb, height, width, inputH, inputW);
    const input =
      this.layout === 'hwc'
        ? new ort.Tensor('float32', toFloatHwc(resized), [inputH, inputW, 3])
        : new ort.Tensor(
            'float32',
            normalizePadChw(resized, inputH, inputW, SAM1_IMAGE_SIZE, SAM1_PIXEL_MEAN, SAM1_PIXEL_STD),
            [1, 3, SAM1_IMAGE_SIZE, SAM1_IMAGE_SIZE],
          );
    this.stats.preprocessMs += performance.now() - t;
    t = performance.now();
    const out = await this.encoder.run({ input_image: input }, ['image_embeddings']);
    this.stats.encoderMs += performance.now() - t;
    this.stats.encoderCalls++;
    const state: Sam1State = { embeddings: out.image_embeddings! };
    return { height, width, frame: { kind: 'letterbox', inputH, inputW, padSize: SAM1_IMAGE_SIZE }, state };
  }

  async decode(image: EncodedImage, points: Float64Array, options: DecodeOptions = {}): Promise<DecodedMasks> {
    const t0 = performance.now();
    const n = points.length / 2;
    const multimask = options.multimask !== false;
    // M = 4 decoders return the single-mask token 0 first and the multimask tokens 1..3 after it; M = 1
    // decoders (`--return-single-mask`) return one already-selected mask.
    const k = multimask && this.tokens === 4 ? 3 : 1;
    const first = multimask && this.tokens === 4 ? 1 : 0;
    const plane = LOW_RES_SIZE * LOW_RES_SIZE;
    const lowRes = new Float32Array(n * k * plane);
    const iou = new Float32Array(n * k);
    const coords = applyCoords(points, image.height, image.width, SAM1_IMAGE_SIZE);
    const { embeddings } = image.state as Sam1State;
    const zeroMask = new ort.Tensor('float32', new Float32Array(plane), [1, 1, LOW_RES_SIZE, LOW_RES_SIZE]);
    const noMask = new ort.Tensor('float32', new Float32Array([0]), [1]);
    const withMask = new ort.Tensor('float32', new Float32Array([1]), [1]);
    const origSize = new ort.Tensor('float32', new Float32Array([image.height, image.width]), [2]);
    // mask_input is [1,1,256,256] in the contract: prompts with their own mask input go one per call.
    const batch = options.maskInput ? 1 : this.batch;
    for (let start = 0; start < n; start += batch) {
      const b = Math.min(batch, n - start);
      // Each prompt: the grid point (label 1) plus the padding point (0,0) with label -1, which the
      // reference prompt encoder appends whenever no box is given.
      const pc = new Float32Array(b * 4);
      const pl = new Float32Array(b * 2);
      for (let i = 0; i < b; i++) {
        pc[i * 4] = coords[(start + i) * 2]!;
        pc[i * 4 + 1] = coords[(start + i) * 2 + 1]!;
        pl[i * 2] = 1;
        pl[i * 2 + 1] = -1;
      }
      const maskInput = options.maskInput
        ? new ort.Tensor('float32', options.maskInput.slice(start * plane, (start + 1) * plane), [1, 1, LOW_RES_SIZE, LOW_RES_SIZE])
        : zeroMask;
      const out = await this.decoder.run(
        {
          image_embeddings: embeddings,
          point_coords: new ort.Tensor('float32', pc, [b, 2, 2]),
          point_labels: new ort.Tensor('float32', pl, [b, 2]),
          mask_input: maskInput,
          has_mask_input: options.maskInput ? withMask : noMask,
          orig_im_size: origSize,
        },
        ['iou_predictions', 'low_res_masks'],
      );
      this.stats.decoderCalls++;
      const outIou = out.iou_predictions!.data as Float32Array;
      const outLow = out.low_res_masks!.data as Float32Array;
      for (let i = 0; i < b; i++) {
        for (let t = 0; t < k; t++) {
          const src = i * this.tokens + first + t;
          const dst = (start + i) * k + t;
          iou[dst] = outIou[src]!;
          lowRes.set(outLow.subarray(src * plane, (src + 1) * plane), dst * plane);
        }
      }
    }
    this.stats.decoderMs += performance.now() - t0;
    return { prompts: n, masksPerPrompt: k, lowResSize: LOW_RES_SIZE, lowRes, iou };
  }

  async dispose(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}

function detectEncoderLayout(session: ort.InferenceSession, label: string): EncoderLayout {
  const shape = inputShape(session, 'input_image');
  if (!shape || !session.outputNames.includes('image_embeddings')) {
    throw new Error(
      `${label} is not a SAM 1 encoder: expected input 'input_image' and output 'image_embeddings', found ${describeIo(session)}`,
    );
  }
  if (shape.length === 3) return 'hwc';
  if (shape.length === 4) return 'plain';
  throw new Error(`${label}: 'input_image' has rank ${shape.length}; expected [H,W,3] or [1,3,1024,1024]`);
}

/** Writes derived model bytes into the content-addressed cache (atomically); returns a path, or the bytes
 * themselves when no cache directory is configured or it is not writable. */
function cached(bytes: Uint8Array, tag: string, dir: string | undefined): string | Uint8Array {
  if (!dir) return bytes;
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 32);
  const path = join(dir, `decoder-${tag}-${hash}.onnx`);
  try {
    if (!existsSync(path)) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, bytes);
      renameSync(tmp, path);
    }
    return path;
  } catch {
    return bytes;
  }
}

/** Mask tokens M of a decoder whose `iou_predictions` shape is not declared: the size of its dim 1 after one
 * call with a neutral prompt. */
async function probeTokens(session: ort.InferenceSession): Promise<number> {
  const plane = LOW_RES_SIZE * LOW_RES_SIZE;
  const out = await session.run(
    {
      image_embeddings: new ort.Tensor('float32', new Float32Array(256 * 64 * 64), [1, 256, 64, 64]),
      point_coords: new ort.Tensor('float32', new Float32Array([512, 512, 0, 0]), [1, 2, 2]),
      point_labels: new ort.Tensor('float32', new Float32Array([1, -1]), [1, 2]),
      mask_input: new ort.Tensor('float32', new Float32Array(plane), [1, 1, LOW_RES_SIZE, LOW_RES_SIZE]),
      has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
      orig_im_size: new ort.Tensor('float32', new Float32Array([1024, 1024]), [2]),
    },
    ['iou_predictions'],
  );
  return out.iou_predictions!.dims[1] ?? Number.NaN;
}

/**
 * Checks that a decoder whose batch dim was made symbolic gives, for a batch of 2 prompts, the same results
 * as two single-prompt runs. Returns true or the reason it does not.
 */
function verifyBatching(session: ort.InferenceSession): Promise<true | string> {
  const emb = new Float32Array(256 * 64 * 64);
  for (let i = 0; i < emb.length; i++) emb[i] = Math.sin(i * 0.37) * 0.5;
  const plane = LOW_RES_SIZE * LOW_RES_SIZE;
  const common = {
    image_embeddings: new ort.Tensor('float32', emb, [1, 256, 64, 64]),
    mask_input: new ort.Tensor('float32', new Float32Array(plane), [1, 1, LOW_RES_SIZE, LOW_RES_SIZE]),
    has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
    orig_im_size: new ort.Tensor('float32', new Float32Array([600, 800]), [2]),
  };
  const pts = [
    [200.5, 300.25],
    [700, 90],
  ];
  return batchMatchesSingles(
    (idx) =>
      session.run(
        {
          ...common,
          point_coords: new ort.Tensor('float32', Float32Array.from(idx.flatMap((i) => [pts[i]![0]!, pts[i]![1]!, 0, 0])), [idx.length, 2, 2]),
          point_labels: new ort.Tensor('float32', Float32Array.from(idx.flatMap(() => [1, -1])), [idx.length, 2]),
        },
        ['iou_predictions', 'low_res_masks'],
      ),
    ['iou_predictions', 'low_res_masks'],
  );
}
