/**
 * onnxruntime-node session creation, shared by all adapters: one place for execution providers, threading
 * and graph optimisation settings, and errors that name the file and say what to do.
 *
 * Devices: `cpu` (always there), `webgpu` (bundled with onnxruntime-node on Linux/Windows/macOS; Vulkan,
 * D3D12 or Metal underneath), `cuda` (only when onnxruntime-node was installed with its CUDA binaries:
 * `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci`), `auto` = the first of cuda, webgpu, cpu that opens.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

export const DEVICES = ['auto', 'cpu', 'webgpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];
export type ResolvedDevice = Exclude<Device, 'auto'>;

export interface RuntimeOptions {
  /** Intra-op threads per session (0 = onnxruntime's default: one per core). */
  threads?: number;
  /** Execution provider; default `cpu`. */
  device?: Device;
}

/** The device `auto` settled on in this process (probing costs a session start, so it is done once). */
let autoDevice: ResolvedDevice | null = null;

export function sessionOptions(opts: RuntimeOptions, device: ResolvedDevice, quiet = false): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [device],
    // 3 = errors only; 4 = fatal only, for probe sessions whose failures are expected and handled.
    logSeverityLevel: quiet ? 4 : 3,
    // 'all' includes layout transforms and op fusions (attention, GELU, LayerNorm) that matter for the
    // decoder; the results stay within float tolerance of the unoptimised graph.
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads && opts.threads > 0 ? opts.threads : 0,
    // Operators run one after another within a call; parallelism comes from intra-op threads and from
    // overlapping images (--concurrency).
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // The arena and memory patterns reuse buffers across the ~1000 decoder calls per image.
    enableCpuMemArena: true,
    enableMemPattern: true,
  };
}

/** Whether onnxruntime-node's CUDA provider library is installed next to its binding. */
export function cudaInstalled(): boolean {
  try {
    const req = createRequire(import.meta.url);
    const pkg = dirname(req.resolve('onnxruntime-node/package.json'));
    const dir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(dir, 'libonnxruntime_providers_cuda.so')) || existsSync(join(dir, 'onnxruntime_providers_cuda.dll'));
  } catch {
    return false;
  }
}

/**
 * Whether WebGPU can possibly find an adapter: on Linux it needs the Vulkan loader (`libvulkan.so.1`). `auto`
 * skips WebGPU without it, which also keeps Dawn's "Couldn't load Vulkan" warning off a CPU-only machine.
 */
export function webgpuLoaderPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    `/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`,
    '/usr/lib64',
    '/usr/lib',
    '/lib64',
    '/lib',
    '/usr/local/lib',
  ];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

function deviceHint(device: ResolvedDevice, reason: string): string {
  if (device === 'cuda') {
    return (
      `CUDA execution provider unavailable (${reason}); onnxruntime-node needs its CUDA 12 binaries: ` +
      'reinstall with `ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci` on a machine with CUDA 12 and cuDNN 9, or use --device webgpu|cpu'
    );
  }
  if (device === 'webgpu') {
    return `WebGPU execution provider unavailable (${reason}); it needs a GPU with a Vulkan (Linux: the libvulkan1 loader and the GPU's Vulkan driver), D3D12 (Windows) or Metal (macOS) driver, or use --device cpu`;
  }
  return reason;
}

function firstLine(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  // onnxruntime prefixes messages with source paths and assertion text; keep the part a user can read.
  const m = /(Failed to [^.]*|No supported adapters|cannot open shared object file[^.]*)/.exec(msg);
  return m ? m[1]! : msg.replace(/^\/onnxruntime_src\/\S+\s*/, '');
}

async function open(model: string | Uint8Array, options: ort.InferenceSession.SessionOptions) {
  return typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options);
}

export interface OpenedSession {
  session: ort.InferenceSession;
  device: ResolvedDevice;
}

/**
 * Creates a session from a file path or model bytes on the requested device; `label` names the model in
 * errors. With `auto`, the first device that opens is remembered for the rest of the process.
 */
export async function createSessionOn(
  model: string | Uint8Array,
  label: string,
  opts: RuntimeOptions,
  quiet = false,
): Promise<OpenedSession> {
  const requested = opts.device ?? 'cpu';
  const candidates: ResolvedDevice[] =
    requested !== 'auto'
      ? [requested]
      : autoDevice
        ? [autoDevice]
        : [...(cudaInstalled() ? (['cuda'] as const) : []), ...(webgpuLoaderPresent() ? (['webgpu'] as const) : []), 'cpu'];
  let lastError: unknown = null;
  for (const device of candidates) {
    if (device === 'cuda' && !cudaInstalled()) {
      lastError = new Error('CUDA provider library not installed');
      if (requested === 'cuda') break;
      continue;
    }
    try {
      const probing = requested === 'auto' && device !== 'cpu';
      const session = await open(model, sessionOptions(opts, device, quiet || probing));
      if (requested === 'auto') autoDevice = device;
      return { session, device };
    } catch (err) {
      lastError = err;
      if (requested === 'auto' && device !== 'cpu' && isProviderFailure(err)) continue;
      break;
    }
  }
  const reason = firstLine(lastError);
  if (requested === 'cuda' || requested === 'webgpu') {
    if (isProviderFailure(lastError) || requested === 'cuda') throw new Error(`cannot load ONNX model ${label}: ${deviceHint(requested, reason)}`);
  }
  throw new Error(`cannot load ONNX model ${label}: ${reason}`);
}

/** Errors that mean "this execution provider cannot run here", as opposed to a bad model file. */
function isProviderFailure(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /adapter|shared library|providers_|webgpu|cuda|CUDA|Vulkan|dawn/i.test(msg);
}

/** Like {@link createSessionOn}, returning only the session. */
export async function createSession(
  model: string | Uint8Array,
  label: string,
  opts: RuntimeOptions,
  quiet = false,
): Promise<ort.InferenceSession> {
  return (await createSessionOn(model, label, opts, quiet)).session;
}

/** Shape of a session input as declared in the graph (numbers for fixed dims, strings for symbolic). */
export function inputShape(session: ort.InferenceSession, name: string): ReadonlyArray<number | string> | undefined {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor ? meta.shape : undefined;
}

export function outputShape(session: ort.InferenceSession, name: string): ReadonlyArray<number | string> | undefined {
  const meta = session.outputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor ? meta.shape : undefined;
}

/** One-line description of a session's inputs and outputs, for errors and `--verbose`. */
export function describeIo(session: ort.InferenceSession): string {
  const fmt = (m: ort.InferenceSession.ValueMetadata) =>
    m.isTensor ? `${m.name}:${m.type}[${m.shape.join(',')}]` : m.name;
  return `inputs ${session.inputMetadata.map(fmt).join(' ')}; outputs ${session.outputMetadata.map(fmt).join(' ')}`;
}

/** The device sessions created with `requested` run on (for `auto`: what it settled on, once known). */
export function resolvedDevice(requested: Device = 'cpu'): ResolvedDevice {
  return requested === 'auto' ? (autoDevice ?? 'cpu') : requested;
}
