/**
 * Image decoding with sharp: any supported raster file → 8-bit RGB, EXIF orientation applied, first frame
 * of animations, alpha dropped. Untrusted input: a pixel limit is checked from the header before any pixel
 * is decoded (decompression bombs), and only raster formats are accepted (no SVG/PDF rendering, so no file
 * an image refers to is ever read).
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import type { RgbImage } from '../pipeline/generator.js';

/** Default largest image, in pixels, that sam-amg decodes (raise with `--max-pixels`). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

const RASTER_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

/** A decode failure, with a one-line reason that does not repeat the file name. */
export class ImageDecodeError extends Error {}

export interface DecodeOptions {
  maxPixels?: number;
}

export interface DecodedImage extends RgbImage {
  /** The container format sharp detected. */
  format: string;
}

/** Decodes a file into 8-bit RGB; throws `ImageDecodeError` with a one-line reason. */
export async function decodeImageFile(path: string, opts: DecodeOptions = {}): Promise<DecodedImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ImageDecodeError(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder' : `cannot read (${code ?? String(err)})`);
  }
  return decodeImageBytes(bytes, opts);
}

export async function decodeImageBytes(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (bytes.length === 0) throw new ImageDecodeError('empty file');
  // `pages: 1` decodes only the first frame of animations/multi-page files; limitInputPixels makes libvips
  // refuse oversized images from the header alone.
  const open = () => sharp(bytes, { pages: 1, failOn: 'error', limitInputPixels: maxPixels, sequentialRead: true });
  let meta: Metadata;
  try {
    meta = await open().metadata();
  } catch (err) {
    throw new ImageDecodeError(reason(err));
  }
  const format = meta.format ?? 'unknown';
  if (!RASTER_FORMATS.has(format)) {
    throw new ImageDecodeError(`unsupported format '${format}' (raster images only: ${[...RASTER_FORMATS].join(', ')})`);
  }
  const w = meta.width ?? 0;
  const h = meta.pageHeight ?? meta.height ?? 0;
  if (w < 1 || h < 1) throw new ImageDecodeError('image has no pixels');
  if (w * h > maxPixels) {
    throw new ImageDecodeError(`${w}×${h} = ${w * h} pixels exceeds the limit of ${maxPixels} (raise it with --max-pixels)`);
  }
  try {
    const { data, info } = await open()
      .autoOrient()
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new ImageDecodeError(`decoded to ${info.channels} channels, expected 3`);
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      format,
    };
  } catch (err) {
    if (err instanceof ImageDecodeError) throw err;
    throw new ImageDecodeError(reason(err));
  }
}

/** Turns libvips' multi-line messages into one line a user can act on. */
function reason(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.trim();
  if (/unsupported image format/i.test(msg)) return 'not a supported image (unrecognised or empty content)';
  if (/pixel limit/i.test(msg)) return `${msg} (raise it with --max-pixels)`;
  if (/premature end|truncated|corrupt|unexpected end/i.test(msg)) return `truncated or corrupt image (${msg})`;
  return msg;
}
