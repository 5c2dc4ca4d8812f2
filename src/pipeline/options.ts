/**
 * Generator options: the parameters of Meta's `SamAutomaticMaskGenerator`, with its defaults, validated.
 */

export interface AmgOptions {
  /** Points sampled along one side of the image (grid of n×n prompts). Reference default 32. */
  pointsPerSide: number;
  /** Prompts decoded per model call (where the model allows batching). Reference default 64. */
  pointsPerBatch: number;
  /** Keep masks whose predicted IoU is strictly above this. 0 (or less) disables the filter. */
  predIouThresh: number;
  /** Keep masks whose stability score is at least this. 0 (or less) disables the filter. */
  stabilityScoreThresh: number;
  /** δ of the stability score: mask agreement between logit cutoffs `maskThreshold ± δ`. */
  stabilityScoreOffset: number;
  /** Logit threshold that binarises masks (the model's `mask_threshold`, 0.0). */
  maskThreshold: number;
  /** IoU threshold of the per-crop box NMS. */
  boxNmsThresh: number;
  /** Number of zoomed crop layers; layer i has (2^i)^2 crops. */
  cropNLayers: number;
  /** IoU threshold of the cross-crop box NMS. */
  cropNmsThresh: number;
  /** Overlap of neighbouring crops as a fraction of the shorter image side (float). */
  cropOverlapRatio: number;
  /** Points per side in crop layer i are scaled down by this factor^i. */
  cropNPointsDownscaleFactor: number;
  /** When > 0, fill holes and remove islands smaller than this many pixels, then re-run NMS. */
  minMaskRegionArea: number;
  /** Three masks per prompt (true, the reference) or one (`multimask_output=False`, SAM 2 generator only). */
  multimaskOutput: boolean;
  /** SAM 2's one-step mask-to-mask refinement: every candidate re-decoded with its own low-res logits as mask input. */
  useM2m: boolean;
  /** Drop prompts whose object-score logit is not above this, for decoders that output one (HF SAM 2 exports).
   * `-Infinity` disables the filter. */
  objectScoreThresh: number;
  /** Explicit normalised point grids, one per crop layer (interleaved x,y in [0,1]); replaces pointsPerSide. */
  pointGrids?: Float64Array[] | undefined;
}

export const DEFAULT_AMG_OPTIONS: Readonly<AmgOptions> = Object.freeze({
  pointsPerSide: 32,
  pointsPerBatch: 64,
  predIouThresh: 0.88,
  stabilityScoreThresh: 0.95,
  stabilityScoreOffset: 1.0,
  maskThreshold: 0.0,
  boxNmsThresh: 0.7,
  cropNLayers: 0,
  cropNmsThresh: 0.7,
  cropOverlapRatio: 512 / 1500,
  cropNPointsDownscaleFactor: 1,
  minMaskRegionArea: 0,
  multimaskOutput: true,
  useM2m: false,
  objectScoreThresh: 0,
});

function check(cond: boolean, msg: string): void {
  if (!cond) throw new RangeError(`invalid generator option: ${msg}`);
}

const isInt = (v: number) => Number.isInteger(v);
const isFinite = (v: number) => Number.isFinite(v);

/** Merges `partial` over the defaults and validates every field; throws a RangeError naming the bad one. */
export function resolveAmgOptions(partial: Partial<AmgOptions> = {}): AmgOptions {
  const o: AmgOptions = { ...DEFAULT_AMG_OPTIONS };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (o as any)[k] = v;
  if (o.pointGrids === undefined) {
    check(isInt(o.pointsPerSide) && o.pointsPerSide >= 1, `pointsPerSide must be an integer >= 1 (got ${o.pointsPerSide})`);
  } else {
    check(o.pointGrids.length === o.cropNLayers + 1,
      `pointGrids must hold one grid per crop layer (${o.cropNLayers + 1}), got ${o.pointGrids.length}`);
    for (const g of o.pointGrids) {
      check(g.length > 0 && g.length % 2 === 0, 'each point grid must hold x,y pairs');
      for (const v of g) check(v >= 0 && v <= 1, `point grid coordinates must lie in [0,1] (got ${v})`);
    }
  }
  check(isInt(o.pointsPerBatch) && o.pointsPerBatch >= 1, `pointsPerBatch must be an integer >= 1 (got ${o.pointsPerBatch})`);
  check(isFinite(o.predIouThresh) && o.predIouThresh <= 1, `predIouThresh must be a number <= 1 (got ${o.predIouThresh})`);
  check(isFinite(o.stabilityScoreThresh) && o.stabilityScoreThresh <= 1,
    `stabilityScoreThresh must be a number <= 1 (got ${o.stabilityScoreThresh})`);
  check(isFinite(o.stabilityScoreOffset) && o.stabilityScoreOffset >= 0,
    `stabilityScoreOffset must be a number >= 0 (got ${o.stabilityScoreOffset})`);
  check(isFinite(o.maskThreshold), `maskThreshold must be a finite number (got ${o.maskThreshold})`);
  check(isFinite(o.boxNmsThresh) && o.boxNmsThresh >= 0 && o.boxNmsThresh <= 1, `boxNmsThresh must be in [0,1] (got ${o.boxNmsThresh})`);
  check(isFinite(o.cropNmsThresh) && o.cropNmsThresh >= 0 && o.cropNmsThresh <= 1, `cropNmsThresh must be in [0,1] (got ${o.cropNmsThresh})`);
  check(isInt(o.cropNLayers) && o.cropNLayers >= 0 && o.cropNLayers <= 6, `cropNLayers must be an integer in [0,6] (got ${o.cropNLayers})`);
  check(isFinite(o.cropOverlapRatio) && o.cropOverlapRatio >= 0 && o.cropOverlapRatio < 1,
    `cropOverlapRatio must be in [0,1) (got ${o.cropOverlapRatio})`);
  check(isFinite(o.cropNPointsDownscaleFactor) && o.cropNPointsDownscaleFactor >= 1,
    `cropNPointsDownscaleFactor must be >= 1 (got ${o.cropNPointsDownscaleFactor})`);
  check(isFinite(o.minMaskRegionArea) && o.minMaskRegionArea >= 0, `minMaskRegionArea must be >= 0 (got ${o.minMaskRegionArea})`);
  check(typeof o.multimaskOutput === 'boolean', 'multimaskOutput must be a boolean');
  check(typeof o.useM2m === 'boolean', 'useM2m must be a boolean');
  check(!Number.isNaN(o.objectScoreThresh) && o.objectScoreThresh !== Infinity, `objectScoreThresh must be a number or -Infinity (got ${o.objectScoreThresh})`);
  return o;
}
