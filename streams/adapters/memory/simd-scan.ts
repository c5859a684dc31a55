/**
 * The exact scan's dot-product kernels in WebAssembly SIMD, bit for bit the scores of the JavaScript
 * kernels in `scan-kernels.ts` (same products, same four partial sums, same final order), only
 * two lanes at a time: a float32 component times a float32 query component is exact in float64, so
 * widening four components to two f64x2 pairs and accumulating lane j % 4 in lane j % 4 reproduces
 * the scalar recipe exactly. Staying in float64 (rather than float32 lanes, which would be twice as
 * wide) keeps every score, and so every list, identical to the scalar path and to the HNSW graph's.
 *
 * The module is a few hundred bytes assembled below rather than a build artefact: no toolchain, no
 * install script, and `WebAssembly.validate` says at start-up whether this Node has SIMD (every
 * supported one does); without it the index keeps the JavaScript kernels.
 */

// Node has WebAssembly, but the es2022 lib and @types/node do not declare it: the little used here.
declare global {
  namespace WebAssembly {
    class Module {
      constructor(bytes: Uint8Array);
    }
    class Instance {
      constructor(module: Module, imports: Record<string, Record<string, unknown>>);
      readonly exports: Record<string, unknown>;
    }
    class Memory {
      constructor(descriptor: { initial: number; maximum?: number });
      readonly buffer: ArrayBuffer;
      grow(pages: number): number;
    }
    function validate(bytes: Uint8Array): boolean;
  }
}

/** Where a collection's scan data lives: offsets in bytes into the kernel's memory. */
export interface ScanKernel {
  readonly memory: WebAssembly.Memory;
  /**
   * `count` dot products of the float32 vectors at `vectors` (4·`blocks` components each,
   * contiguous) with the float64 query at `query`, written as float64 to `out`.
   */
  dot(vectors: number, query: number, blocks: number, count: number, out: number): void;
  /** `dot` for two queries in one pass over the vectors. */
  dotPair(
    vectors: number,
    firstQuery: number,
    secondQuery: number,
    blocks: number,
    count: number,
    firstOut: number,
    secondOut: number,
  ): void;
}

// Opcodes (WebAssembly core 2.0; SIMD ops follow the 0xfd prefix as LEB128 u32).
const BLOCK = 0x02;
const LOOP = 0x03;
const END = 0x0b;
const BR_IF = 0x0d;
const VOID = 0x40;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const LOCAL_TEE = 0x22;
const I32_CONST = 0x41;
const I32_EQZ = 0x45;
const I32_ADD = 0x6a;
const I32_SUB = 0x6b;
const F64_ADD = 0xa0;
const F64_STORE = 0x39;
const I32 = 0x7f;
const V128 = 0x7b;
const SIMD = 0xfd;
const V128_LOAD = 0x00;
const V128_CONST = 0x0c;
const I8X16_SHUFFLE = 0x0d;
const F64X2_EXTRACT_LANE = 0x21;
const F64X2_PROMOTE_LOW_F32X4 = 0x5f;
const F64X2_ADD = 0xf0;
const F64X2_MUL = 0xf2;

function uleb(value: number): number[] {
  const bytes: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (v !== 0);
  return bytes;
}

/** Signed LEB128, for the small constants used here. */
function sleb(value: number): number[] {
  const bytes: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      bytes.push(byte);
      return bytes;
    }
    bytes.push(byte | 0x80);
  }
}

const simd = (op: number): number[] => [SIMD, ...uleb(op)];
const get = (local: number): number[] => [LOCAL_GET, ...uleb(local)];
const set = (local: number): number[] => [LOCAL_SET, ...uleb(local)];
const tee = (local: number): number[] => [LOCAL_TEE, ...uleb(local)];
/** v128.load at `local` + `offset` (alignment hint 1: unaligned loads are fine). */
const load = (local: number, offset: number): number[] => [
  ...get(local),
  ...simd(V128_LOAD),
  0,
  ...uleb(offset),
];
const zeroVector = (local: number): number[] => [
  ...simd(V128_CONST),
  ...new Array<number>(16).fill(0),
  ...set(local),
];
const addTo = (local: number, step: number): number[] => [
  ...get(local),
  I32_CONST,
  ...sleb(step),
  I32_ADD,
  ...set(local),
];
/** Decrements `local` and leaves whether it is still non-zero. */
const countDown = (local: number): number[] => [...get(local), I32_CONST, 1, I32_SUB, ...tee(local)];
/** Bytes 8..15 of a v128 moved to 0..7: the upper two float32 lanes, for promote_low. */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];

/** acc += query[offset .. offset + 16) × widened. */
function accumulate(acc: number, query: number, offset: number, widened: number): number[] {
  return [
    ...get(acc),
    ...load(query, offset),
    ...get(widened),
    ...simd(F64X2_MUL),
    ...simd(F64X2_ADD),
    ...set(acc),
  ];
}

/** (lo[0] + lo[1]) + (hi[0] + hi[1]): the scalar kernels' s0 + s1 + (s2 + s3). */
function total(low: number, high: number): number[] {
  return [
    ...get(low),
    ...simd(F64X2_EXTRACT_LANE),
    0,
    ...get(low),
    ...simd(F64X2_EXTRACT_LANE),
    1,
    F64_ADD,
    ...get(high),
    ...simd(F64X2_EXTRACT_LANE),
    0,
    ...get(high),
    ...simd(F64X2_EXTRACT_LANE),
    1,
    F64_ADD,
    F64_ADD,
  ];
}

const store = (address: number, value: number[]): number[] => [...get(address), ...value, F64_STORE, 3, 0];

/**
 * The body of a kernel over `queries` queries. Parameters: vectors, the query addresses, blocks,
 * count, the output addresses. Locals after them: block counter, one cursor per query, the widened
 * low and high halves, and two accumulators per query.
 */
function kernelBody(queries: 1 | 2): number[] {
  const vectors = 0;
  const query = (q: number): number => 1 + q;
  const blocks = 1 + queries;
  const count = 2 + queries;
  const out = (q: number): number => 3 + queries + q;
  const params = 3 + 2 * queries;
  const remaining = params;
  const cursor = (q: number): number => params + 1 + q;
  const i32Locals = 1 + queries;
  const low = params + i32Locals;
  const high = low + 1;
  const accLow = (q: number): number => high + 1 + 2 * q;
  const accHigh = (q: number): number => high + 2 + 2 * q;
  const v128Locals = 2 + 2 * queries;
  const each = (f: (q: number) => number[]): number[] => (queries === 1 ? f(0) : [...f(0), ...f(1)]);

  const code = [
    BLOCK,
    VOID,
    ...get(count),
    I32_EQZ,
    BR_IF,
    0,
    ...get(blocks),
    I32_EQZ,
    BR_IF,
    0,
    LOOP,
    VOID,
    ...each((q) => [
      ...zeroVector(accLow(q)),
      ...zeroVector(accHigh(q)),
      ...get(query(q)),
      ...set(cursor(q)),
    ]),
    ...get(blocks),
    ...set(remaining),
    LOOP,
    VOID,
    ...load(vectors, 0),
    ...tee(low),
    ...get(low),
    ...simd(I8X16_SHUFFLE),
    ...HIGH_HALF,
    ...simd(F64X2_PROMOTE_LOW_F32X4),
    ...set(high),
    ...get(low),
    ...simd(F64X2_PROMOTE_LOW_F32X4),
    ...set(low),
    ...each((q) => [
      ...accumulate(accLow(q), cursor(q), 0, low),
      ...accumulate(accHigh(q), cursor(q), 16, high),
      ...addTo(cursor(q), 32),
    ]),
    ...addTo(vectors, 16),
    ...countDown(remaining),
    BR_IF,
    0,
    END,
    ...each((q) => [...store(out(q), total(accLow(q), accHigh(q))), ...addTo(out(q), 8)]),
    ...countDown(count),
    BR_IF,
    0,
    END,
    END,
    END,
  ];
  const locals = [2, ...uleb(i32Locals), I32, ...uleb(v128Locals), V128];
  const body = [...locals, ...code];
  return [...uleb(body.length), ...body];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function functionType(params: number): number[] {
  return [0x60, ...uleb(params), ...new Array<number>(params).fill(I32), 0];
}

/** The module's bytes: memory imported as env.memory, `dot` and `dotPair` exported. */
export function scanModuleBytes(): Uint8Array {
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [2, ...functionType(5), ...functionType(7)]),
    ...section(2, [1, ...name('env'), ...name('memory'), 0x02, 0x00, 0x00]),
    ...section(3, [2, 0, 1]),
    ...section(7, [2, ...name('dot'), 0x00, 0, ...name('dotPair'), 0x00, 1]),
    ...section(10, [2, ...kernelBody(1), ...kernelBody(2)]),
  ];
  return Uint8Array.from(bytes);
}

let compiled: WebAssembly.Module | null | undefined;

function compiledModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = scanModuleBytes();
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled;
}

/** Whether this Node runs the SIMD kernels (otherwise the index scans with the JavaScript ones). */
export function scanKernelAvailable(): boolean {
  return compiledModule() !== null;
}

/**
 * A kernel over its own memory of `initialPages` 64 KiB pages, or null where SIMD is unavailable
 * (or the memory cannot be had).
 */
export function createScanKernel(initialPages = 1): ScanKernel | null {
  const module = compiledModule();
  if (module === null) return null;
  let memory: WebAssembly.Memory;
  try {
    memory = new WebAssembly.Memory({ initial: initialPages });
  } catch {
    // A WebAssembly memory reserves its address space up front, which a tight `ulimit -v` can
    // refuse; the JavaScript kernels need none of it.
    return null;
  }
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const exports = instance.exports as unknown as Omit<ScanKernel, 'memory'>;
  return { memory, dot: exports.dot, dotPair: exports.dotPair };
}
