/**
 * sam-amg as a library.
 *
 * ```ts
 * import { loadModel, resolveModel, MaskGenerator, decodeImageFile } from 'sam-amg';
 * const model = await loadModel({ ...(await resolveModel('sam-vit-b')), promptsPerCall: 64 });
 * const generator = new MaskGenerator(model, { pointsPerSide: 32, minMaskRegionArea: 100 });
 * const masks = await generator.generate(await decodeImageFile('photo.jpg'));
 * ```
 */
export { MaskGenerator, cropRgb, type MaskRecord, type RgbImage, type StageTimes } from './pipeline/generator.js';
export { DEFAULT_AMG_OPTIONS, resolveAmgOptions, type AmgOptions } from './pipeline/options.js';
export { runBatch, type BatchEvent, type BatchOptions, type BatchSummary } from './pipeline/batch.js';
export type { MaskModel, EncodedImage, DecodedMasks, DecodeOptions, MaskFrame, ModelInfo, ModelStats } from './model/types.js';
export { loadModel, detectContract, type LoadModelOptions } from './model/load.js';
export { Sam1Model, type Sam1LoadOptions } from './model/sam1.js';
export { HfSamModel } from './model/hf-sam.js';
export { HfSam2Model } from './model/hf-sam2.js';
export { SxSam2Model } from './model/sx-sam2.js';
export { DEVICES, type Device } from './model/session.js';
export { PRESETS, PRESET_NAMES, composeOptions, defaultPresetFor, type PresetName } from './pipeline/presets.js';
export { resolveModel, planVariant, type ResolvedModel, type ResolveOptions } from './registry/resolve.js';
export { packagedRegistry, loadRegistry, findModel, type Registry, type RegistryModel, type Contract } from './registry/registry.js';
export { discoverInputs, IMAGE_EXTENSIONS, type InputFile } from './io/discover.js';
export { decodeImageFile, decodeImageBytes, ImageDecodeError, DEFAULT_MAX_PIXELS } from './io/image.js';
export { CocoWriter, cocoAnnotation, type ResultWriter, type ImageResult, type ImageFailure } from './io/coco-writer.js';

// The pure algorithm core (no I/O), for users who drive their own model.
export * from './amg/grid.js';
export * from './amg/crops.js';
export * from './amg/transforms.js';
export * from './amg/boxes.js';
export * from './amg/nms.js';
export * from './amg/rle.js';
export * from './amg/stability.js';
export * from './amg/upscale.js';
export * from './amg/mask-pass.js';
export * from './amg/regions.js';
export * from './amg/resize.js';
export * from './amg/resize-float.js';
export * from './amg/preprocess.js';
export * from './amg/postprocess.js';
export type { BoxXYXY, Rle } from './amg/types.js';
export { VERSION } from './version.js';
