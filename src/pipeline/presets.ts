/**
 * Named generator settings. A preset fills in options; flags given explicitly override it.
 *
 * - `sam`: Meta's `SamAutomaticMaskGenerator` defaults (the default for SAM 1 models).
 * - `sam2`: Meta's `SAM2AutomaticMaskGenerator` defaults — as `sam` but `pred_iou_thresh` 0.8 (the default
 *   for SAM 2 models).
 * - `sam2-dense`: the second recipe of SAM 2's automatic-mask-generator notebook: 64 points per side, 128 per
 *   batch, IoU 0.7, stability 0.92 at offset 0.7, one crop layer with points downscaled by 2, small regions
 *   under 25 px cleaned, mask-to-mask refinement. Many more masks, several times slower.
 * - `fast`: a 16×16 grid (4× fewer decoder prompts than 32×32, the dominant cost) and nothing else changed.
 */
import { DEFAULT_AMG_OPTIONS, type AmgOptions } from './options.js';

export const PRESET_NAMES = ['sam', 'sam2', 'sam2-dense', 'fast'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export const PRESETS: Readonly<Record<PresetName, Partial<AmgOptions>>> = {
  sam: {},
  sam2: { predIouThresh: 0.8 },
  'sam2-dense': {
    pointsPerSide: 64,
    pointsPerBatch: 128,
    predIouThresh: 0.7,
    stabilityScoreThresh: 0.92,
    stabilityScoreOffset: 0.7,
    cropNLayers: 1,
    boxNmsThresh: 0.7,
    cropNPointsDownscaleFactor: 2,
    minMaskRegionArea: 25,
    useM2m: true,
  },
  fast: { pointsPerSide: 16 },
};

/** The preset a model family gets when none is named. */
export function defaultPresetFor(family: 'sam1' | 'sam2'): PresetName {
  return family === 'sam2' ? 'sam2' : 'sam';
}

/**
 * Full options from, lowest priority first: the reference defaults, the preset, a model's recommended
 * settings (registry), then explicitly given values.
 */
export function composeOptions(
  preset: PresetName,
  recommended: Partial<AmgOptions> = {},
  explicit: Partial<AmgOptions> = {},
): Partial<AmgOptions> {
  const out: Partial<AmgOptions> = { ...DEFAULT_AMG_OPTIONS, ...PRESETS[preset], ...recommended };
  for (const [k, v] of Object.entries(explicit)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
