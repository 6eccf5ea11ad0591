import { hex } from '../engine/addr';
import { rangesOverlap, type AddrRange } from '../bus/addrRange';

export type RegionKind = 'dram' | 'sram' | 'mmio';

export interface Region extends AddrRange {
  readonly name: string;
  readonly kind: RegionKind;
}

/** Thrown by AddressMap.add; the config builder turns it into a ConfigError with a path. */
export class RegionOverlapError extends Error {
  constructor(readonly region: Region, readonly existing: Region) {
    super(`region ${region.name} [${hex(region.base)}, ${hex(region.base + region.size)}) overlaps ` +
      `${existing.name} [${hex(existing.base)}, ${hex(existing.base + existing.size)})`);
  }
}

/** The SoC's physical address map: named, non-overlapping regions kept sorted by base. */
export class AddressMap {
  private readonly regions: Region[] = [];

  add(region: Region): void {
    if (!(region.size > 0)) throw new Error(`region ${region.name} has size ${region.size}; must be positive`);
    const clash = this.regions.find((r) => rangesOverlap(r, region));
    if (clash) throw new RegionOverlapError(region, clash);
    this.regions.push(region);
    this.regions.sort((a, b) => a.base - b.base);
  }

  /** The region holding [addr, addr+size), or undefined if none holds all of it. */
  find(addr: number, size = 1): Region | undefined {
    let lo = 0, hi = this.regions.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.regions[mid];
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.base + r.size) lo = mid + 1;
      else return addr + size <= r.base + r.size ? r : undefined;
    }
    return undefined;
  }

  byName(name: string): Region | undefined {
    return this.regions.find((r) => r.name === name);
  }

  all(): readonly Region[] {
    return this.regions;
  }
}
