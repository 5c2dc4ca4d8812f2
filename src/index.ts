/**
 * sam-amg as a library.
 *
 * ```ts
 * import { Sam1Model, MaskGenerator, decodeImageFile, cocoAnnotation } from 'sam-amg';
 * const model = await Sam1Model.load({ encoder: 'enc.onnx', decoder: 'dec.onnx', promptsPerCall: 64 });
 * const generator = new MaskGenerator(model, { pointsPerSide: 32, minMaskRegionArea: 100 });
 * const masks = await generator.generate(await decodeImageFile('photo.jpg'));
 * ```
 */
export { MaskGenerator, cropRgb, type MaskRecord, type RgbImage, type StageTimes } from './pipeline/generator.js';
export { DEFAULT_AMG_OPTIONS, resolveAmgOptions, type AmgOptions } from './pipeline/options.js';
export { runBatch, type BatchEvent, type BatchOptions, type BatchSummary } from './pipeline/batch.js';
export type { MaskModel, EncodedImage, DecodedMasks, MaskFrame, ModelInfo } from './model/types.js';
export { Sam1Model, type Sam1LoadOptions } from './model/sam1.js';
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
export * from './amg/preprocess.js';
export * from './amg/postprocess.js';
export type { BoxXYXY, Rle } from './amg/types.js';
export { VERSION } from './version.js';
