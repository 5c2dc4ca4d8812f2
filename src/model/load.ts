/**
 * Picks the adapter for a pair of ONNX files from the decoder's input names (the detection table of
 * `../shared/spec/model-contracts.md` §5), and loads it.
 *
 * | decoder inputs contain                        | contract                 | adapter      |
 * |-----------------------------------------------|--------------------------|--------------|
 * | `image_positional_embeddings`                 | hf-sam (Xenova SAM, SlimSAM) | HfSamModel |
 * | `image_embeddings.0`                          | hf-sam2 (onnx-community SAM 2/2.1) | HfSam2Model |
 * | `high_res_feats_0`                            | sx-sam2 (samexporter SAM 2) | SxSam2Model |
 * | `orig_im_size` and `has_mask_input`           | sx-sam1 + meta-decoder   | Sam1Model    |
 */
import { readModelFile } from './batch-check.js';
import { modelIo, formatDims } from './onnx/graph.js';
import { decodeModel } from './onnx/proto.js';
import { HfSamModel } from './hf-sam.js';
import { HfSam2Model } from './hf-sam2.js';
import { Sam1Model } from './sam1.js';
import { resolvedDevice, type RuntimeOptions } from './session.js';
import { SxSam2Model } from './sx-sam2.js';
import type { MaskModel } from './types.js';
import type { Contract } from '../registry/registry.js';

export type { Contract } from '../registry/registry.js';

export interface LoadModelOptions extends RuntimeOptions {
  encoder: string;
  decoder: string;
  /** HF exports: the repository's `preprocessor_config.json`. */
  preprocessorConfig?: string;
  /** Prompts per decoder call the pipeline would like (`--points-per-batch`). */
  promptsPerCall?: number;
  /** Where derived files (pruned decoders) are cached. */
  cacheDir?: string;
  /** Skip detection (e.g. from the registry); checked against the file anyway by the adapter. */
  contract?: Contract;
}

/** The contract a decoder follows, from its graph input names; throws listing what it found. */
export function detectContract(decoderPath: string): Contract {
  const bytes = readModelFile(decoderPath);
  let names: string[];
  let listing: string;
  try {
    const io = modelIo(decodeModel(bytes));
    names = io.inputs.map((i) => i.name);
    listing = `inputs ${io.inputs.map((i) => `${i.name}${formatDims(i.dims)}`).join(', ')}; outputs ${io.outputs.map((o) => o.name).join(', ')}`;
  } catch (err) {
    throw new Error(`${decoderPath} is not an ONNX model (${(err as Error).message})`);
  }
  const has = (n: string) => names.includes(n);
  if (has('image_positional_embeddings')) return 'hf-sam';
  if (has('image_embeddings.0')) return 'hf-sam2';
  if (has('high_res_feats_0')) return 'sx-sam2';
  if (has('orig_im_size') && has('has_mask_input')) return 'sx-sam1+meta-decoder';
  throw new Error(
    `${decoderPath} matches no supported decoder contract (hf-sam, hf-sam2, sx-sam2, SAM 1 meta-decoder); it has ${listing}. ` +
      'Is it the decoder? Pass the encoder with --encoder and the decoder with --decoder.',
  );
}

/** Loads a model pair with the adapter of its contract; `info.details.device` says where it runs. */
export async function loadModel(opts: LoadModelOptions): Promise<MaskModel> {
  const contract = opts.contract ?? detectContract(opts.decoder);
  let model: MaskModel;
  switch (contract) {
    case 'hf-sam':
      model = await HfSamModel.load(opts);
      break;
    case 'hf-sam2':
      model = await HfSam2Model.load(opts);
      break;
    case 'sx-sam2':
      model = await SxSam2Model.load(opts);
      break;
    case 'sx-sam1+meta-decoder':
      model = await Sam1Model.load(opts);
      break;
  }
  (model.info.details as Record<string, string | number | boolean>).device ??= resolvedDevice(opts.device);
  return model;
}
