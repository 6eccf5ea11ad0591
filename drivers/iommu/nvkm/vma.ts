/**
 * The nvkm VMM's address-space allocator (nouveau nvkm/subdev/mmu/vmm.c: nvkm_vma_new,
 * nvkm_vma_tail, nvkm_vmm_free_*, nvkm_vmm_node_*, nvkm_vmm_put_region).
 *
 * Every VMA (allocated or free) sits on one address-ordered list (vmm->list). Free VMAs
 * are also in the free tree ordered by size, then address (vmm->free); allocated ones in
 * the node tree ordered by address (vmm->root). nvkm's red-black trees are sorted arrays
 * here (binary search; the ordering and the "BUG on duplicate key" are the same). VMA
 * counts are small, and the trees are only touched by get/put/map/unmap.
 */

import { SimInvariantError } from '../../../sim/engine/errors';
import { hex } from '../../../sim/engine/addr';
import type { NvkmMemory } from './desc';

/** NVKM_VMA_PAGE_NONE: no page size chosen / referenced. */
export const NVKM_VMA_PAGE_NONE = 7;

/** struct nvkm_vma. */
export class NvkmVma {
  /** Page size index (into the backend's page list) the region was allocated for. */
  page = NVKM_VMA_PAGE_NONE;
  /** Page size index whose PTEs this region holds references to. */
  refd = NVKM_VMA_PAGE_NONE;
  used = false;
  /** PTE references are taken at map time (not allocation time). */
  mapref = false;
  sparse = false;
  /** Split from a larger allocation (node_split / vma_tail). */
  part = false;
  busy = false;
  mapped = false;
  memory: NvkmMemory | null = null;
  /** Address-ordered list links (vmm->list); null at the ends. */
  prev: NvkmVma | null = null;
  next: NvkmVma | null = null;

  constructor(
    public addr: number,
    public size: number,
  ) {}

  toString(): string {
    // nvkm_vma_dump()
    const f = (b: boolean, c: string) => (b ? c : '-');
    return `${hex(this.addr)} ${hex(this.size)} ${this.used ? '-' : 'F'}${f(this.mapref, 'R')}${f(this.sparse, 'S')}` +
      `${this.page !== NVKM_VMA_PAGE_NONE ? this.page : '-'}${this.refd !== NVKM_VMA_PAGE_NONE ? this.refd : '-'}` +
      `${f(this.part, 'P')}${f(this.busy, 'B')}${f(this.mapped, 'M')}`;
  }
}

/** A set of VMAs kept in key order (an rb-tree in nvkm). */
export class VmaTree {
  private readonly a: NvkmVma[] = [];
  constructor(private readonly cmp: (x: NvkmVma, y: NvkmVma) => number, private readonly what: string) {}

  get size(): number {
    return this.a.length;
  }

  at(i: number): NvkmVma | undefined {
    return this.a[i];
  }

  /** Index of the first VMA for which `before(v)` is false (the tree must be partitioned by it). */
  lowerBound(before: (v: NvkmVma) => boolean): number {
    let lo = 0;
    let hi = this.a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.a[mid])) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** rb_link_node + rb_insert_color; a duplicate key is a BUG(). */
  insert(v: NvkmVma): void {
    const i = this.lowerBound((x) => this.cmp(x, v) < 0);
    if (i < this.a.length && this.cmp(this.a[i], v) === 0) {
      throw new SimInvariantError(`nvkm vmm ${this.what}: BUG: VMA ${v} collides with ${this.a[i]}`);
    }
    this.a.splice(i, 0, v);
  }

  /** rb_erase. */
  remove(v: NvkmVma): void {
    let i = this.lowerBound((x) => this.cmp(x, v) < 0);
    if (this.a[i] !== v) i = this.a.indexOf(v);
    if (i < 0) throw new SimInvariantError(`nvkm vmm ${this.what}: VMA ${v} is not in the tree`);
    this.a.splice(i, 1);
  }

  indexOf(v: NvkmVma): number {
    const i = this.lowerBound((x) => this.cmp(x, v) < 0);
    return this.a[i] === v ? i : this.a.indexOf(v);
  }

  values(): readonly NvkmVma[] {
    return this.a;
  }
}

/**
 * vmm->list, vmm->free and vmm->root with the nvkm operations on them. Methods carry
 * the nvkm function names (nvkm_vmm_free_insert → freeInsert, ...).
 */
export class NvkmVmaSpace {
  /** First and last VMA of the address-ordered list. */
  head: NvkmVma | null = null;
  tail: NvkmVma | null = null;
  /** Free VMAs by size, then address. */
  readonly free = new VmaTree((x, y) => (x.size !== y.size ? x.size - y.size : x.addr - y.addr), 'free tree');
  /** Allocated VMAs by address. */
  readonly root = new VmaTree((x, y) => x.addr - y.addr, 'node tree');

  /** All VMAs in address order. */
  list(): NvkmVma[] {
    const out: NvkmVma[] = [];
    for (let v = this.head; v; v = v.next) out.push(v);
    return out;
  }

  /** list_add_tail(&vma->head, &vmm->list). */
  listAddTail(vma: NvkmVma): void {
    vma.prev = this.tail;
    vma.next = null;
    if (this.tail) this.tail.next = vma;
    else this.head = vma;
    this.tail = vma;
  }

  /** list_add(&new->head, &vma->head): `vma` goes right after `after`. */
  listAddAfter(vma: NvkmVma, after: NvkmVma): void {
    vma.prev = after;
    vma.next = after.next;
    if (after.next) after.next.prev = vma;
    else this.tail = vma;
    after.next = vma;
  }

  /** list_del. */
  listDel(vma: NvkmVma): void {
    if (vma.prev) vma.prev.next = vma.next;
    else this.head = vma.next;
    if (vma.next) vma.next.prev = vma.prev;
    else this.tail = vma.prev;
    vma.prev = vma.next = null;
  }

  /** nvkm_vma_tail(): splits the last `tail` bytes of `vma` into a new VMA after it. */
  vmaTail(vma: NvkmVma, tail: number): NvkmVma {
    if (vma.size === tail) throw new SimInvariantError(`nvkm_vma_tail: BUG: tail ${hex(tail)} is the whole VMA ${vma}`);
    const n = new NvkmVma(vma.addr + (vma.size - tail), tail);
    vma.size -= tail;
    n.mapref = vma.mapref;
    n.sparse = vma.sparse;
    n.page = vma.page;
    n.refd = vma.refd;
    n.used = vma.used;
    n.part = vma.part;
    n.busy = vma.busy;
    n.mapped = vma.mapped;
    this.listAddAfter(n, vma);
    return n;
  }

  freeRemove(vma: NvkmVma): void {
    this.free.remove(vma);
  }

  freeDelete(vma: NvkmVma): void {
    this.freeRemove(vma);
    this.listDel(vma);
  }

  freeInsert(vma: NvkmVma): void {
    this.free.insert(vma);
  }

  nodeRemove(vma: NvkmVma): void {
    this.root.remove(vma);
  }

  nodeDelete(vma: NvkmVma): void {
    this.nodeRemove(vma);
    this.listDel(vma);
  }

  nodeInsert(vma: NvkmVma): void {
    this.root.insert(vma);
  }

  /** nvkm_vmm_node_search(): the allocated VMA containing `addr`, or null. */
  nodeSearch(addr: number): NvkmVma | null {
    const i = this.root.lowerBound((v) => v.addr + v.size <= addr);
    const v = this.root.at(i);
    return v !== undefined && v.addr <= addr ? v : null;
  }

  /**
   * nvkm_vmm_node_merge(): folds the first `size` bytes of `vma` into `prev`, or its last
   * `size` bytes into `next` (or all of it into both), returning the VMA that now holds
   * the range.
   */
  nodeMerge(prev: NvkmVma | null, vma: NvkmVma, next: NvkmVma | null, size: number): NvkmVma {
    if (next) {
      if (vma.size === size) {
        vma.size += next.size;
        this.nodeDelete(next);
        if (prev) {
          prev.size += vma.size;
          this.nodeDelete(vma);
          return prev;
        }
        return vma;
      }
      if (prev) throw new SimInvariantError(`nvkm_vmm_node_merge: BUG: partial merge with both neighbours of ${vma}`);
      this.nodeRemove(next);
      vma.size -= size;
      next.addr -= size;
      next.size += size;
      this.nodeInsert(next);
      return next;
    }
    if (prev) {
      if (vma.size !== size) {
        this.nodeRemove(vma);
        prev.size += size;
        vma.addr += size;
        vma.size -= size;
        this.nodeInsert(vma);
      } else {
        prev.size += vma.size;
        this.nodeDelete(vma);
      }
      return prev;
    }
    return vma;
  }

  /** nvkm_vmm_node_split(): carves [addr, addr+size) out of allocated `vma` as its own (part) VMA. */
  nodeSplit(vma: NvkmVma, addr: number, size: number): NvkmVma {
    if (vma.addr !== addr) {
      const t = this.vmaTail(vma, vma.size + vma.addr - addr);
      t.part = true;
      this.nodeInsert(t);
      vma = t;
    }
    if (vma.size !== size) {
      const t = this.vmaTail(vma, vma.size - size);
      t.part = true;
      this.nodeInsert(t);
    }
    return vma;
  }

  /** nvkm_vmm_put_region(): returns `vma` to the free tree, merged with free neighbours. */
  putRegion(vma: NvkmVma): void {
    const prev = vma.prev;
    if (prev && !prev.used) {
      vma.addr = prev.addr;
      vma.size += prev.size;
      this.freeDelete(prev);
    }
    const next = vma.next;
    if (next && !next.used) {
      vma.size += next.size;
      this.freeDelete(next);
    }
    this.freeInsert(vma);
  }
}
