/** The SAM 1 split adapter on the oracle fixtures: token detection, pruning, prompts and errors. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Sam1Model } from '../src/model/sam1.js';
import { setOutputDim } from '../src/model/onnx/graph.js';
import { decodeModel, encodeModel } from '../src/model/onnx/proto.js';
import { buildFixture, writeFixtures, ORACLE_IOUS } from './fixtures/index.js';
import { fixturesDir } from './helpers/cli.js';
import { drawScene } from './helpers/synth.js';

const dir = mkdtempSync(join(tmpdir(), 'sam-amg-sam1-'));
let enc = '';
let dec = '';

beforeAll(async () => {
  const f = await writeFixtures(fixturesDir, ['oracle-encoder-hwc', 'oracle-decoder-m4']);
  enc = f['oracle-encoder-hwc']!;
  dec = f['oracle-decoder-m4']!;
});

const scene = drawScene(1024, 768, [200, 200, 200], [{ name: 'red', colour: [220, 30, 30], kind: 'rect', x0: 64, y0: 48, x1: 320, y1: 240 }]);

describe('Sam1Model', () => {
  it('uses multimask tokens 1..3 of an M=4 decoder and appends the padding point', async () => {
    const model = await Sam1Model.load({ encoder: enc, decoder: dec, device: 'cpu' });
    const image = await model.encode(scene.rgb, 768, 1024);
    expect(image.frame).toEqual({ kind: 'letterbox', inputH: 768, inputW: 1024, padSize: 1024 });
    const out = await model.decode(image, new Float64Array([192, 144]));
    expect(out.masksPerPrompt).toBe(3);
    // Non-zero IoUs prove the (0,0)/-1 point went in (the oracle zeroes them otherwise).
    expect(Array.from(out.iou)).toEqual(ORACLE_IOUS.slice(1).map(Math.fround));
    const single = await model.decode(image, new Float64Array([192, 144]), { multimask: false });
    expect(Array.from(single.iou)).toEqual([Math.fround(ORACLE_IOUS[0])]);
    expect(model.info.details).toMatchObject({ pruned: true, masksPerCall: 4 });
    await model.dispose();
  });

  it('finds the token count with a probe call when the export leaves it symbolic', async () => {
    let m = decodeModel(buildFixture('oracle-decoder-m4'));
    m = setOutputDim(m, 'iou_predictions', 1, 'num_masks');
    m = setOutputDim(m, 'low_res_masks', 1, 'num_masks');
    const path = join(dir, 'symbolic-tokens.onnx');
    writeFileSync(path, encodeModel(m));
    const model = await Sam1Model.load({ encoder: enc, decoder: path, device: 'cpu' });
    const image = await model.encode(scene.rgb, 768, 1024);
    expect((await model.decode(image, new Float64Array([192, 144]))).masksPerPrompt).toBe(3);
    await model.dispose();
  });

  it('falls back to one prompt per call when a made-dynamic batch does not verify', async () => {
    // The oracle graph reshapes to a batch of 1, so a batch of 2 fails and the check rejects it.
    const model = await Sam1Model.load({ encoder: enc, decoder: dec, device: 'cpu', promptsPerCall: 64 });
    expect(model.info.promptsPerCall).toBe(1);
    expect(String(model.info.details.dynamicBatch)).toMatch(/^rejected/);
    await model.dispose();
  });

  it('names the file and what it has when the encoder is of another contract', async () => {
    await expect(Sam1Model.load({ encoder: dec, decoder: dec, device: 'cpu' })).rejects.toThrow(/is not a SAM 1 encoder.*image_embeddings/);
  });
});
