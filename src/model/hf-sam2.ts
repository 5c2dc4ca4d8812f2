/**
 * Adapter for the `hf-sam2` contract: transformers.js exports of SAM 2 / 2.1 (`onnx-community/sam2-hiera-*`,
 * `onnx-community/sam2.1-hiera-*-ONNX`; by extension EdgeTAM and SAM 3 tracker exports, which share the
 * `Sam2Model` contract). `../shared/spec/model-contracts.md` §3.2.
 *
 * Encoder: `pixel_values f32 [B,3,1024,1024]` → `image_embeddings.0 [B,32,256,256]`, `image_embeddings.1
 * [B,64,128,128]`, `image_embeddings.2 [B,256,64,64]` (one per feature level; the names contain dots).
 * Decoder: every `image_embeddings.<i>` it declares (fed from the encoder output of the same name),
 * `input_points f32 [B,N,P,2]`, `input_labels i64 [B,N,P]`, and `input_boxes f32 [B,nb,4]` if declared (fed as
 * `[1,0,4]`, like transformers.js for point-only prompts) → `iou_scores [B,N,3]`, `pred_masks [B,N,3,256,256]`,
 * `object_score_logits [B,N,1]` (returned as `objectScores`, > 0 = object present).
 *
 * Batching, labels and `multimask: false` work as in `hf-sam.ts` (no pad point from the adapter: transformers.js
 * adds none, and whether the graph appends one is UNCONFIRMED; the single-mask token is not exposed, so the
 * highest-IoU multimask output is returned). `maskInput` is not supported.
 */
import { HfModelBase, type HfContractSpec, type HfLoadOptions } from './hf-sam.js';

/**
 * `hf-sam2`. Family `sam2`. The preprocessing comes from `preprocessorConfig` (`preprocessor_config.json`): the
 * onnx-community `sam2-hiera-*` repos letterbox + pad like SAM 1; without a config the default is HF Python's
 * `Sam2ImageProcessor`: a square stretch to 1024×1024 (no padding), 1/255, ImageNet mean/std, PIL bilinear.
 * Pass the repository's config whenever it exists: the two frames map prompts to different places.
 */
export class HfSam2Model extends HfModelBase {
  static readonly spec: HfContractSpec = {
    contract: 'hf-sam2',
    family: 'sam2',
    fallbackConfig: 'hf-sam2',
    embeddingInputs: null,
    embeddingPattern: /^image_embeddings\.\d+$/,
    optionalInputs: ['input_boxes'],
    optionalOutputs: ['object_score_logits'],
  };

  /** Loads and checks both files and the config; errors name the file and list the I/O found. */
  static async load(opts: HfLoadOptions): Promise<HfSam2Model> {
    const { encoder, decoder, config, plan } = await HfModelBase.open(opts, HfSam2Model.spec);
    return new HfSam2Model(encoder, decoder, config, plan, HfSam2Model.spec, {
      featureLevels: plan.embeddingInputs.length,
      boxesInput: plan.feedEmptyBoxes,
      objectScores: plan.outputs.includes('object_score_logits'),
    });
  }
}
