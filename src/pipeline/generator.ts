/**
 * Automatic mask generation for one image: the reference `SamAutomaticMaskGenerator.generate`, step for
 * step (`../shared/spec/amg-reference.md` §2), over any `MaskModel`.
 *
 *   crops → encode crop → point batches → decode → IoU filter → fused upscale pass (stability, binarise,
 *   box, uncropped RLE) → stability filter → crop-edge filter → per-crop NMS → cross-crop NMS →
 *   small-region cleanup → records
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
import { rleArea } from '../amg/rle.js';
import type { BoxXYXY, Rle } from '../amg/types.js';
import { sam1AxisTaps, sam2AxisTaps } from '../amg/upscale.js';
import type { EncodedImage, MaskModel } from '../model/types.js';
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

export class MaskGenerator {
  readonly options: AmgOptions;
  private readonly grids: Float64Array[];
  readonly times: StageTimes = { encode: 0, decode: 0, postprocess: 0 };

  constructor(
    readonly model: MaskModel,
    options: Partial<AmgOptions> = {},
  ) {
    this.options = resolveAmgOptions(options);
    const o = this.options;
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

    if (o.minMaskRegionArea > 0 && data.rles.length > 0) {
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
    const empty: CropMasks = { rles: [], boxes: [], ious: [], scores: [], points: [], cropBoxes: [] };
    // generate_crop_boxes can emit empty or negative-extent boxes for tiny/elongated images; the reference
    // would fail on them, we skip them (they cannot hold a mask).
    if (cropW < 1 || cropH < 1) return empty;

    let t = performance.now();
    const encoded = await this.model.encode(cropRgb(image, cropBox), cropH, cropW);
    this.times.encode += performance.now() - t;

    const points = scalePointGrid(this.grids[layer]!, cropW, cropH);
    const pass = new MaskPass(planMaskPass(...axisTaps(encoded), cropBox, image.height, image.width));
    const found: CropMasks = { ...empty, rles: [], boxes: [], ious: [], scores: [], points: [], cropBoxes: [] };
    const nPoints = points.length / 2;
    for (let start = 0; start < nPoints; start += o.pointsPerBatch) {
      const end = Math.min(nPoints, start + o.pointsPerBatch);
      t = performance.now();
      const batch = await this.model.decode(encoded, points.subarray(start * 2, end * 2));
      this.times.decode += performance.now() - t;
      t = performance.now();
      this.filterBatch(batch, points, start, cropBox, image, pass, found);
      this.times.postprocess += performance.now() - t;
    }

    t = performance.now();
    const keep = nms(boxesF32(found.boxes), Float32Array.from(found.ious), o.boxNmsThresh);
    const kept = selectMasks(found, keep);
    kept.boxes = kept.boxes.map((b) => uncropBox(b, cropBox));
    for (let i = 0; i < kept.points.length; i += 2) {
      kept.points[i] = kept.points[i]! + x0;
      kept.points[i + 1] = kept.points[i + 1]! + y0;
    }
    kept.cropBoxes = kept.rles.map(() => cropBox);
    this.times.postprocess += performance.now() - t;
    return kept;
  }

  /** The reference's `_process_batch` filters, appending survivors to `out` in prompt-major order. */
  private filterBatch(
    batch: Awaited<ReturnType<MaskModel['decode']>>,
    points: Float64Array,
    firstPoint: number,
    cropBox: BoxXYXY,
    image: RgbImage,
    pass: MaskPass,
    out: CropMasks,
  ): void {
    const o = this.options;
    const plane = batch.lowResSize * batch.lowResSize;
    const imageBox: BoxXYXY = [0, 0, image.width, image.height];
    for (let p = 0; p < batch.prompts; p++) {
      for (let k = 0; k < batch.masksPerPrompt; k++) {
        const m = p * batch.masksPerPrompt + k;
        const iou = batch.iou[m]!;
        if (o.predIouThresh > 0 && !(iou > o.predIouThresh)) continue;
        const r = pass.run(batch.lowRes, m * plane, batch.lowResSize, o.maskThreshold, o.stabilityScoreOffset, true);
        const score = Math.fround(r.intersection / r.union);
        if (o.stabilityScoreThresh > 0 && !(score >= o.stabilityScoreThresh)) continue;
        if (isBoxNearCropEdge(r.box, cropBox, imageBox)) continue;
        out.rles.push(r.rle!);
        out.boxes.push(r.box);
        out.ious.push(iou);
        out.scores.push(score);
        out.points.push(points[(firstPoint + p) * 2]!, points[(firstPoint + p) * 2 + 1]!);
      }
    }
  }
}

/** Upscaling taps (rows, cols) from the model's low-res frame to the encoded crop's pixels. */
function axisTaps(enc: EncodedImage) {
  const low = 256;
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
