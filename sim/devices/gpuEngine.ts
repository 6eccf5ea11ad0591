import type { AtomicPhase, FastForwardDevice } from './fastForward';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import type { Counter } from '../engine/stats';
import type { RequestPort } from '../bus/port';
import type { Status } from '../bus/transaction';
import { TrafficGenerator, type TrafficListener, type TrafficResult } from './trafficGenerator';
import type { ReadMix, Tiled2dSpec } from './workload';
import { defineDeviceKind, deviceFields, Outstanding } from '../soc/deviceSpec';
import type { AccessMode } from '../engine/accessMode';

/** A 2D surface (texture or framebuffer) in device memory, cut into tiles. */
export interface GpuSurface {
  /** Device address of row 0 (a VA behind a GPU MMU, or physical). */
  base: number;
  /** Row pitch in bytes: a multiple of tileWidthBytes. */
  widthBytes: number;
  /** Rows: a multiple of tileHeight. */
  height: number;
  tileWidthBytes: number;
  tileHeight: number;
}

/**
 * - `slice` (default): the surface's tile rows are dealt out in contiguous bands, one
 *   per stream (stream s gets tile rows [floor(s·R/S), floor((s+1)·R/S)) of the R tile
 *   rows), so the streams together touch every byte once per pass. Needs S <= R.
 * - `shared`: every stream walks the whole surface, stream s starting at tile
 *   floor(s·T/S) of the T tiles (and wrapping), as CTAs of independent draws reading
 *   one texture would. Each pass moves S × the surface's bytes.
 */
export type GpuSharing = 'slice' | 'shared';

/** The engine's hardware (its SoC config entry). */
export interface GpuEngineParams {
  /** Transactions in flight for the whole engine (GPUs sustain hundreds). */
  maxOutstanding: number;
  /** Default 'timing'. */
  mode?: AccessMode;
}

/**
 * What runs on the engine (`configure`). The scenario's gpu job checks it
 * (scenario/jobs/gpu.ts): the surface is a valid tiled2d workload and slice sharing has
 * at most one stream per tile row.
 */
export interface GpuProgram {
  /** Concurrent access streams (warps/CTAs), each a tiled 2D walk. */
  streams: number;
  surface: GpuSurface;
  /** Bytes per access: a power of two dividing tileWidthBytes (e.g. 32-byte sectors, 128-byte lines). */
  accessBytes: number;
  sharing?: GpuSharing;
  /** Walks of each stream's region (default 1). */
  passes?: number;
  /** Fraction of reads, 0..1 (default 1: texture reads); see workload.ts for the mix. */
  readFraction?: number;
  mix?: ReadMix;
  /** Accesses per µs per stream (default: as fast as maxOutstanding allows). */
  ratePerUs?: number;
}

export interface GpuResult extends TrafficResult {
  tilesDone: number;
}

export type GpuDoneCallback = (result: GpuResult) => void;

/** The tiled2d workload of (part of) a program's surface. */
export function gpuSurfaceSpec(p: GpuProgram, base: number, height: number, startTile: number, accesses: number): Tiled2dSpec {
  const spec: Tiled2dSpec = {
    kind: 'tiled2d',
    base,
    accessBytes: p.accessBytes,
    widthBytes: p.surface.widthBytes,
    height,
    tileWidthBytes: p.surface.tileWidthBytes,
    tileHeight: p.surface.tileHeight,
    startTile,
    accesses,
  };
  if (p.readFraction !== undefined) spec.readFraction = p.readFraction;
  if (p.mix !== undefined) spec.mix = p.mix;
  return spec;
}

/**
 * A GPU-like memory client: `streams` concurrent warps/CTAs, each walking its tiles of
 * a 2D surface (workload `tiled2d`: tile by tile, row by row inside a tile), issuing as
 * fast as `maxOutstanding` allows, round-robin among the streams. This is the access
 * pattern of texture fetches and framebuffer (ROP) traffic: many independent streams,
 * each with good locality inside a tile, together spread over the surface, which is
 * what stresses a GPU MMU's TLBs (the nv-gf100/nv-gp100 formats with large pages).
 *
 * Built on TrafficGenerator (same port and BusMaster, same stats under `path` —
 * `throughput_GBps` in GB/s among them —, same timing and atomic modes); it adds `tiles_done`: a stream's tile counts as done when as many of that
 * stream's accesses as a tile holds have completed (exact when each stream's accesses
 * complete in order, as through an in-order interconnect; any status counts).
 *
 * Ignored: shader execution, caches inside the GPU (L1/L2, texture cache),
 * compression, and the issue bandwidth of the SMs (accesses go out as soon as a slot
 * is free; the interconnect's back-pressure paces them).
 */
export class GpuEngine implements TrafficListener, FastForwardDevice {
  readonly generator: TrafficGenerator;
  /** Accesses per tile, and tiles in the whole run, of the configured program. */
  accessesPerTile = 0;
  tilesTotal = 0;
  private completed = new Float64Array(0);
  private tiles = 0;
  private readonly sTilesDone: Counter;

  constructor(
    ctx: SimContext,
    readonly path: string,
    clock: ClockDomain,
    masterId: number,
    readonly params: GpuEngineParams,
  ) {
    this.generator = new TrafficGenerator(ctx, path, clock, masterId, { maxOutstanding: params.maxOutstanding, mode: params.mode ?? 'timing' }, this);
    this.sTilesDone = ctx.stats.scope(path).counter('tiles_done', 'tiles whose accesses have all completed');
  }

  /** Programs the surface walk of the next start() (not while running). */
  configure(program: GpuProgram): void {
    const { surface, streams } = program;
    const passes = program.passes ?? 1;
    this.accessesPerTile = (surface.tileWidthBytes / program.accessBytes) * surface.tileHeight;
    const tilesX = surface.widthBytes / surface.tileWidthBytes;
    const tileRows = surface.height / surface.tileHeight;
    const tileRowBytes = surface.widthBytes * surface.tileHeight;
    const specs: Tiled2dSpec[] = [];
    let tilesTotal = 0;
    for (let s = 0; s < streams; s++) {
      let spec: Tiled2dSpec;
      if ((program.sharing ?? 'slice') === 'slice') {
        const r0 = Math.floor((s * tileRows) / streams);
        const r1 = Math.floor(((s + 1) * tileRows) / streams);
        const tiles = (r1 - r0) * tilesX;
        spec = gpuSurfaceSpec(program, surface.base + r0 * tileRowBytes, (r1 - r0) * surface.tileHeight, 0, passes * tiles * this.accessesPerTile);
        tilesTotal += passes * tiles;
      } else {
        const tiles = tileRows * tilesX;
        spec = gpuSurfaceSpec(program, surface.base, surface.height, Math.floor((s * tiles) / streams), passes * tiles * this.accessesPerTile);
        tilesTotal += passes * tiles;
      }
      specs.push(spec);
    }
    this.generator.configure({ streams: specs, ...(program.ratePerUs !== undefined ? { ratePerUs: program.ratePerUs } : {}) });
    this.tilesTotal = tilesTotal;
    this.completed = new Float64Array(streams);
  }
  get port(): RequestPort {
    return this.generator.port;
  }

  get running(): boolean {
    return this.generator.running;
  }

  get busy(): boolean {
    return this.generator.busy;
  }

  beginFastForward(phase: AtomicPhase): void {
    this.generator.beginFastForward(phase);
  }

  resumeTiming(): void {
    this.generator.resumeTiming();
  }

  /** Walks the surface (`passes` times); `done` gets the totals and the tiles done. */
  start(done?: GpuDoneCallback): void {
    this.completed.fill(0);
    this.tiles = 0;
    this.generator.start((r) => done?.({ ...r, tilesDone: this.tiles }));
  }

  stop(): void {
    this.generator.stop();
  }

  accessDone(stream: number, _status: Status): void {
    if (++this.completed[stream] % this.accessesPerTile === 0) {
      this.tiles++;
      this.sTilesDone.inc();
    }
  }
}

/** Device kind `gpu`: a GPU-like engine (scenario job `gpu` programs its surface walk). */
export const gpuDeviceKind = defineDeviceKind({
  spec: deviceFields('gpu', {
    maxOutstanding: Outstanding.describe('memory requests in flight across all streams'),
  }),
  describe: 'a GPU-like engine: many concurrent streams sweeping tiled 2D surfaces',
  build: (env, d) => new GpuEngine(env.ctx, env.path, env.clock, env.masterId, { maxOutstanding: d.maxOutstanding, mode: env.mode }),
});
