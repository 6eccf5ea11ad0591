import { ATS_STU_BYTES } from './atsCompletion';

/**
 * The translations an IOMMU has handed one ATS device and not yet taken back: an
 * accounting structure for the Thunderclap point, which real IOMMUs do not keep (a
 * translated request carries only a physical address, so hardware without such a table
 * cannot tell a translation it gave from a forged one).
 *
 * A grant is made when a Translation Request is answered with a translation (IOVA frame →
 * physical frame, 4 KiB frames) and revoked when the IOMMU invalidates that IOVA in its
 * own TLBs (the kernel has unmapped it: invalidate-range, -ASID or -all of the stream's
 * ASID). A translated request is *vouched* when its physical frame is the target of a
 * live grant; anything else (a forged address, or a translation the device kept after
 * the kernel took it back) is what `<iommu>.<device>.ats.translated_unvouched` counts.
 */
export class AtsGrants {
  /** IOVA frame number → physical frame number. */
  private readonly byIova = new Map<number, number>();
  /** Physical frame number → live grants to it. */
  private readonly live = new Map<number, number>();

  get size(): number {
    return this.byIova.size;
  }

  grant(iova: number, pa: number): void {
    const v = Math.floor(iova / ATS_STU_BYTES);
    const p = Math.floor(pa / ATS_STU_BYTES);
    const old = this.byIova.get(v);
    if (old === p) return;
    if (old !== undefined) this.drop(old);
    this.byIova.set(v, p);
    this.live.set(p, (this.live.get(p) ?? 0) + 1);
  }

  /** Revokes the grants of IOVAs in [va, va + size). */
  revokeRange(va: number, size: number): void {
    const first = Math.floor(va / ATS_STU_BYTES);
    const last = Math.floor((va + size - 1) / ATS_STU_BYTES);
    if (last - first + 1 <= this.byIova.size) {
      for (let v = first; v <= last; v++) this.revokeFrame(v);
      return;
    }
    for (const v of [...this.byIova.keys()]) if (v >= first && v <= last) this.revokeFrame(v);
  }

  revokeAll(): void {
    this.byIova.clear();
    this.live.clear();
  }

  /** True if some live grant translates to the frame holding `pa`. */
  vouched(pa: number): boolean {
    return this.live.has(Math.floor(pa / ATS_STU_BYTES));
  }

  private revokeFrame(v: number): void {
    const p = this.byIova.get(v);
    if (p === undefined) return;
    this.byIova.delete(v);
    this.drop(p);
  }

  private drop(p: number): void {
    const n = this.live.get(p)!;
    if (n <= 1) this.live.delete(p);
    else this.live.set(p, n - 1);
  }
}
