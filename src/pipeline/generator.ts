/**
 * Automatic mask generation for one image: the reference `SamAutomaticMaskGenerator.generate`, step for
 * step (`../shared/spec/amg-reference.md` §2), over any `MaskModel`.
 *
 *   crops → encode crop → point batches → decode → IoU filter → fused upscale pass (stability, binarise,
 *   box, uncropped RLE) → stability filter → crop-edge filter → per-crop NMS → cross-crop NMS →
 *   small-region cleanup → records
 *
 * SAM 2 models (`model.info.family === 'sam2'`) get `SAM2AutomaticMaskGenerator`'s semantics: float32 prompt
 * points, optional single-mask output and mask-to-mask refinement, and small-region handling on the low-res
 * logits (holes and sprinkles up to `minMaskRegionArea` low-res pixels, before upscaling) instead of SAM 1's
 * full-resolution post-pass. Mask upscaling follows the model's frame (letterbox: SAM 1's two resizes;
 * stretch: SAM 2's single resize). Where a decoder outputs object scores, prompts whose object-score logit is
 * not above `objectScoreThresh` are dropped (not in the reference, which ignores the scores).
 *
 * Exact-preserving shortcuts: the IoU filter runs before any upscaling (it needs no mask), and each
 * surviving mask is upscaled, thresholded and run-length encoded in one pass without materialising the
 * full-resolution logits (see `amg/mask-pass.ts`).
 */
import { generateCropBoxes, uncropBox, cropBoxArea } from '../amg/crops.js';
import { buildAllLayerPointGrids, scalePointGrid } from '../amg/grid.js';
import { isBoxNearCropEdge, boxXyxyToXywh } from '../amg/boxes.js';
import { MaskPass, planMaskPass } from '../amg/mask-pass.js';
import { nms } from '../amg/nms.js';
import { postprocessSmallRegions } from '../amg/postprocess.js';
import { fillHolesAndSprinkles } from '../amg/regions.js';
import { rleArea } from '../amg/rle.js';
import type { BoxXYXY, Rle } from '../amg/types.js';
import { sam1AxisTaps, sam2AxisTaps } from '../amg/upscale.js';
import type { DecodedMasks, EncodedImage, MaskModel } from '../model/types.js';
import { resolveAmgOptions, type AmgOptions } from './options.js';

/** An RGB image: `height × width × 3` uint8, row-major. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** One output mask, with the fields of the reference record. */
export interface MaskRecord {
  /** Full-image uncompressed RLE (column-major runs, starting with zeros). */
  segmentation: Rle;
  /** Number of mask pixels. */
  area: number;
  /** The reference's XYWH box: `w = x_max - x_min` from the INCLUSIVE max (one less than COCO's extent). */
  bbox: [number, number, number, number];
  /** The decoder's predicted IoU (float32). */
  predictedIou: number;
  /** The prompt point that produced the mask, in image pixels (float64). */
  pointCoords: [number, number];
  /** Stability score (float32). */
  stabilityScore: number;
  /** The crop the mask came from, XYWH. */
  cropBox: [number, number, number, number];
}

/** Time spent per stage, in milliseconds, accumulated over calls of `generate`. */
export interface StageTimes {
  encode: number;
  decode: number;
  postprocess: number;
  /** Candidate masks that passed the IoU filter and were upscaled (count, not ms). */
  upscaled: number;
}

/** Masks of one crop (or of the whole image), in the reference's `MaskData` columns. */
interface CropMasks {
  rles: Rle[];
  /** Inclusive XYXY boxes in image coordinates. */
  boxes: BoxXYXY[];
  ious: number[];
  scores: number[];
  /** Interleaved `[x, y]` prompt points in image coordinates. */
  points: number[];
  /** Exclusive-end XYXY crop box of each mask. */
  cropBoxes: BoxXYXY[];
}

/** Side of the low-res mask logits of every SAM family. */
const LOW_RES_SIZE = 256;

export class MaskGenerator {
  readonly options: AmgOptions;
  private readonly grids: Float64Array[];
  readonly times: StageTimes = { encode: 0, decode: 0, postprocess: 0, upscaled: 0 };

  constructor(
    readonly model: MaskModel,
    options: Partial<AmgOptions> = {},
  ) {
    this.options = resolveAmgOptions(options);
    const o = this.options;
    if (o.useM2m && !model.info.acceptsMaskInput) {
      throw new RangeError(`invalid generator option: useM2m needs a decoder with a mask input; ${model.info.contract} has none`);
    }
    this.grids = o.pointGrids ?? buildAllLayerPointGrids(o.pointsPerSide, o.cropNLayers, o.cropNPointsDownscaleFactor);
  }

  /** Runs automatic mask generation on one image; records come in the reference's order. */
  async generate(image: RgbImage): Promise<MaskRecord[]> {
    const o = this.options;
    const { height: h, width: w } = image;
    const crops = generateCropBoxes(h, w, o.cropNLayers, o.cropOverlapRatio);
    const parts: CropMasks[] = [];
    for (let i = 0; i < crops.boxes.length; i++) {
      parts.push(await this.processCrop(image, crops.boxes[i]!, crops.layerIdxs[i]!));
    }
    let data = concatMasks(parts);

    // Cross-crop NMS: all masks of a crop tie at 1/crop-area, so masks from smaller (zoomed) crops win.
    if (crops.boxes.length > 1) {
      const t = performance.now();
      const scores = Float32Array.from(data.cropBoxes, (b) => 1 / cropBoxArea(b));
      data = selectMasks(data, nms(boxesF32(data.boxes), scores, o.cropNmsThresh));
      this.times.postprocess += performance.now() - t;
    }

    // SAM 2's generator cleans small regions on the low-res logits instead (see filterBatch).
    if (o.minMaskRegionArea > 0 && data.rles.length > 0 && this.model.info.family === 'sam1') {
      const t = performance.now();
      const cleaned = postprocessSmallRegions(
        data.rles,
        data.boxes,
        o.minMaskRegionArea,
        Math.max(o.boxNmsThresh, o.cropNmsThresh),
      );
      data = selectMasks(data, cleaned.keep);
      data.rles = cleaned.rles;
      data.boxes = cleaned.boxes;
      this.times.postprocess += performance.now() - t;
    }

    return data.rles.map((rle, i) => {
      const [cx0, cy0, cx1, cy1] = data.cropBoxes[i]!;
      return {
        segmentation: rle,
        area: rleArea(rle),
        bbox: boxXyxyToXywh(data.boxes[i]!) as [number, number, number, number],
        predictedIou: data.ious[i]!,
        pointCoords: [data.points[2 * i]!, data.points[2 * i + 1]!],
        stabilityScore: data.scores[i]!,
        cropBox: [cx0, cy0, cx1 - cx0, cy1 - cy0],
      };
    });
  }

  /** The reference's `_process_crop`: encode the crop, decode every grid point, filter, per-crop NMS. */
  private async processCrop(image: RgbImage, cropBox: BoxXYXY, layer: number): Promise<CropMasks> {
    const o = this.options;
    const [x0, y0, x1, y1] = cropBox;
    const cropW = x1 - x0;
    const cropH = y1 - y0;
    // generate_crop_boxes can emit empty or negative-extent boxes for tiny/elongated images; the reference
    // would fail on them, we skip them (they cannot hold a mask).
    if (cropW < 1 || cropH < 1) return emptyMasks();

    let t = performance.now();
    const encoded = await this.model.encode(cropRgb(image, cropBox), cropH, cropW);
    this.times.encode += performance.now() - t;

    const points = scalePointGrid(this.grids[layer]!, cropW, cropH);
    // SAM 2's generator holds prompt points as float32 (its records' point_coords too).
    if (this.model.info.family === 'sam2') for (let i = 0; i < points.length; i++) points[i] = Math.fround(points[i]!);
    const pass = new MaskPass(planMaskPass(...axisTaps(encoded), cropBox, image.height, image.width));
    const found = emptyMasks();
    const nPoints = points.length / 2;
    for (let start = 0; start < nPoints; start += o.pointsPerBatch) {
      const end = Math.min(nPoints, start + o.pointsPerBatch);
      t = performance.now();
      const batchPoints = points.subarray(start * 2, end * 2);
      let batch = await this.model.decode(encoded, batchPoints, { multimask: o.multimaskOutput });
      const objectScores = batch.objectScores;
      const candidatesPerPoint = batch.masksPerPrompt;
      if (o.useM2m) batch = await this.refineWithM2m(encoded, batchPoints, batch);
      this.times.decode += performance.now() - t;
      t = performance.now();
      this.filterBatch(batch, candidatesPerPoint, objectScores, points, start, cropBox, image, pass, found);
      this.times.postprocess += performance.now() - t;
    }

    t = performance.now();
    const keep = nms(boxesF32(found.boxes), Float32Array.from(found.ious), o.boxNmsThresh);
    const kept = selectMasks(found, keep);
    kept.boxes = kept.boxes.map((b) => uncropBox(b, cropBox));
    const sam2 = this.model.info.family === 'sam2';
    for (let i = 0; i < kept.points.length; i += 2) {
      // SAM 2 adds the offset to float32 points in float32.
      kept.points[i] = sam2 ? Math.fround(kept.points[i]! + x0) : kept.points[i]! + x0;
      kept.points[i + 1] = sam2 ? Math.fround(kept.points[i + 1]! + y0) : kept.points[i + 1]! + y0;
    }
    kept.cropBoxes = kept.rles.map(() => cropBox);
    this.times.postprocess += performance.now() - t;
    return kept;
  }

  /**
   * SAM 2's `refine_with_m2m`: every candidate mask of the batch (before any filter) is decoded again from
   * its own point with its low-res logits, clamped to ±32 as SAM 2's predictor returns them, as mask input;
   * one mask per candidate comes back. Candidate c belongs to prompt `floor(c / K)`.
   */
  private async refineWithM2m(encoded: EncodedImage, batchPoints: Float64Array, first: DecodedMasks): Promise<DecodedMasks> {
    const k = first.masksPerPrompt;
    const n = first.prompts * k;
    const repeated = new Float64Array(n * 2);
    for (let c = 0; c < n; c++) {
      const p = Math.floor(c / k);
      repeated[2 * c] = batchPoints[2 * p]!;
      repeated[2 * c + 1] = batchPoints[2 * p + 1]!;
    }
    const maskInput = first.lowRes.map((v) => (v > 32 ? 32 : v < -32 ? -32 : v));
    const refined = await this.model.decode(encoded, repeated, { multimask: false, maskInput });
    // Re-express as one "prompt" per candidate with one mask each; object scores stay per original prompt.
    return { prompts: n, masksPerPrompt: 1, lowResSize: refined.lowResSize, lowRes: refined.lowRes, iou: refined.iou };
  }

  /** The reference's `_process_batch` filters, appending survivors to `out` in prompt-major order. */
  private filterBatch(
    batch: DecodedMasks,
    candidatesPerPoint: number,
    objectScores: Float32Array | undefined,
    points: Float64Array,
    firstPoint: number,
    cropBox: BoxXYXY,
    image: RgbImage,
    pass: MaskPass,
    out: CropMasks,
  ): void {
    const o = this.options;
    const size = batch.lowResSize;
    const plane = size * size;
    const imageBox: BoxXYXY = [0, 0, image.width, image.height];
    const lowResCleanup = this.model.info.family === 'sam2' && o.minMaskRegionArea > 0;
    for (let c = 0; c < batch.prompts * batch.masksPerPrompt; c++) {
      // Candidates are prompt-major: `candidatesPerPoint` masks per grid point (3 or 1), also after m2m.
      const pointIndex = Math.floor(c / candidatesPerPoint);
      if (objectScores && !(objectScores[pointIndex]! > o.objectScoreThresh)) continue;
      const iou = batch.iou[c]!;
      if (o.predIouThresh > 0 && !(iou > o.predIouThresh)) continue;
      let low = batch.lowRes;
      let offset = c * plane;
      if (lowResCleanup) {
        low = fillHolesAndSprinkles(batch.lowRes.subarray(offset, offset + plane), size, size, o.maskThreshold, o.minMaskRegionArea, o.minMaskRegionArea);
        offset = 0;
      }
      const r = pass.run(low, offset, size, o.maskThreshold, o.stabilityScoreOffset, true);
      this.times.upscaled++;
      const score = Math.fround(r.intersection / r.union);
      if (o.stabilityScoreThresh > 0 && !(score >= o.stabilityScoreThresh)) continue;
      if (isBoxNearCropEdge(r.box, cropBox, imageBox)) continue;
      out.rles.push(r.rle!);
      out.boxes.push(r.box);
      out.ious.push(iou);
      out.scores.push(score);
      out.points.push(points[(firstPoint + pointIndex) * 2]!, points[(firstPoint + pointIndex) * 2 + 1]!);
    }
  }
}

/** Upscaling taps (rows, cols) from the model's low-res frame to the encoded crop's pixels. */
function axisTaps(enc: EncodedImage) {
  const low = LOW_RES_SIZE;
  const f = enc.frame;
  return f.kind === 'letterbox'
    ? ([sam1AxisTaps(low, f.padSize, f.inputH, enc.height), sam1AxisTaps(low, f.padSize, f.inputW, enc.width)] as const)
    : ([sam2AxisTaps(low, enc.height), sam2AxisTaps(low, enc.width)] as const);
}

/** Copies the crop `[x0,x1) × [y0,y1)` out of an RGB image. */
export function cropRgb(image: RgbImage, [x0, y0, x1, y1]: BoxXYXY): Uint8Array {
  if (x0 === 0 && y0 === 0 && x1 === image.width && y1 === image.height) return image.data;
  const rowBytes = (x1 - x0) * 3;
  const out = new Uint8Array((y1 - y0) * rowBytes);
  for (let y = y0; y < y1; y++) {
    const src = (y * image.width + x0) * 3;
    out.set(image.data.subarray(src, src + rowBytes), (y - y0) * rowBytes);
  }
  return out;
}

function emptyMasks(): CropMasks {
  return { rles: [], boxes: [], ious: [], scores: [], points: [], cropBoxes: [] };
}

function boxesF32(boxes: BoxXYXY[]): Float32Array {
  const out = new Float32Array(boxes.length * 4);
  for (let i = 0; i < boxes.length; i++) out.set(boxes[i]!, i * 4);
  return out;
}

function selectMasks(d: CropMasks, keep: ArrayLike<number>): CropMasks {
  const pick = <T>(a: T[]) => Array.from(keep, (i) => a[i]!);
  const points: number[] = [];
  for (const i of Array.from(keep)) points.push(d.points[2 * i]!, d.points[2 * i + 1]!);
  return {
    rles: pick(d.rles),
    boxes: pick(d.boxes),
    ious: pick(d.ious),
    scores: pick(d.scores),
    points,
    cropBoxes: d.cropBoxes.length ? pick(d.cropBoxes) : [],
  };
}

function concatMasks(parts: CropMasks[]): CropMasks {
  return {
    rles: parts.flatMap((p) => p.rles),
    boxes: parts.flatMap((p) => p.boxes),
    ious: parts.flatMap((p) => p.ious),
    scores: parts.flatMap((p) => p.scores),
    points: parts.flatMap((p) => p.points),
    cropBoxes: parts.flatMap((p) => p.cropBoxes),
  };
}
