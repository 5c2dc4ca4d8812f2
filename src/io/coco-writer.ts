/**
 * COCO dataset output: one JSON file with `images`, `annotations` (compressed RLE) and `categories`,
 * written atomically. Annotations stream to a temporary file as each image completes, so memory holds only
 * the (small) image table; the final file appears under its name only once it is complete.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { once } from 'node:events';
import { rleToBboxXywh, rleToString } from '../amg/rle.js';
import type { MaskRecord } from '../pipeline/generator.js';

/** One finished image, handed to a writer in input order. */
export interface ImageResult {
  /** 1-based id, the image's position in the sorted input list. */
  id: number;
  fileName: string;
  width: number;
  height: number;
  records: MaskRecord[];
}

export interface ImageFailure {
  id: number;
  fileName: string;
  error: string;
}

/** Receives results as images complete; `finish` makes the output visible, `abort` removes temporaries. */
export interface ResultWriter {
  writeImage(result: ImageResult): Promise<void>;
  writeFailure(failure: ImageFailure): Promise<void>;
  finish(info: Record<string, unknown>): Promise<void>;
  abort(): Promise<void>;
}

/** The COCO annotation for one mask. `bbox` is COCO's pixel extent (pycocotools `toBbox`). */
export function cocoAnnotation(record: MaskRecord, id: number, imageId: number) {
  const rle = record.segmentation;
  return {
    id,
    image_id: imageId,
    category_id: 1,
    segmentation: { size: [rle.size[0], rle.size[1]], counts: rleToString(rle.counts) },
    area: record.area,
    bbox: rleToBboxXywh(rle),
    iscrowd: 0,
    predicted_iou: record.predictedIou,
    stability_score: record.stabilityScore,
    point_coords: [record.pointCoords],
    crop_box: record.cropBox,
  };
}

export class CocoWriter implements ResultWriter {
  private readonly images: { id: number; file_name: string; width: number; height: number }[] = [];
  private readonly failures: ImageFailure[] = [];
  private readonly annTmp: string;
  private annStream: WriteStream | null = null;
  private nextAnnotationId = 1;
  private annotationsWritten = 0;

  constructor(readonly outPath: string) {
    this.annTmp = join(dirname(outPath), `.${basename(outPath)}.${process.pid}.annotations.tmp`);
  }

  private async stream(): Promise<WriteStream> {
    if (!this.annStream) {
      await mkdir(dirname(this.outPath), { recursive: true });
      this.annStream = createWriteStream(this.annTmp, { flags: 'w' });
      await once(this.annStream, 'open');
    }
    return this.annStream;
  }

  async writeImage(r: ImageResult): Promise<void> {
    this.images.push({ id: r.id, file_name: r.fileName, width: r.width, height: r.height });
    if (r.records.length === 0) return;
    const s = await this.stream();
    let chunk = '';
    for (const rec of r.records) {
      chunk += (this.annotationsWritten++ === 0 ? '' : ',\n') + JSON.stringify(cocoAnnotation(rec, this.nextAnnotationId++, r.id));
    }
    if (!s.write(chunk)) await once(s, 'drain');
  }

  async writeFailure(f: ImageFailure): Promise<void> {
    this.failures.push(f);
  }

  async finish(info: Record<string, unknown>): Promise<void> {
    await mkdir(dirname(this.outPath), { recursive: true });
    if (this.annStream) {
      this.annStream.end();
      await once(this.annStream, 'finish');
    }
    const tmp = join(dirname(this.outPath), `.${basename(this.outPath)}.${process.pid}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      const head =
        `{"info":${JSON.stringify(info)},\n` +
        `"images":[${this.images.map((i) => JSON.stringify(i)).join(',\n')}],\n` +
        `"annotations":[`;
      await fh.write(head);
      if (this.annStream) {
        for await (const buf of createReadStream(this.annTmp)) await fh.write(buf as Buffer);
      }
      const tail =
        `],\n"categories":[{"id":1,"name":"object","supercategory":"object"}],\n` +
        `"failures":${JSON.stringify(this.failures.map((f) => ({ image_index: f.id, file_name: f.fileName, error: f.error })))}}\n`;
      await fh.write(tail);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.outPath);
    await rm(this.annTmp, { force: true });
  }

  async abort(): Promise<void> {
    if (this.annStream) {
      this.annStream.destroy();
      this.annStream = null;
    }
    await rm(this.annTmp, { force: true });
  }
}
