import { formatValidation, MAX_RELATIVE_ERROR, runValidation, type ValidationResult } from '../../bench/validation';

describe('validation benches: socsim against closed forms', () => {
  let results: ValidationResult[];
  beforeAll(() => {
    // 250 K lookups per TLB case (the bench itself uses 1 M): sampling error ~0.2-0.5%,
    // and jest runs hot loops far slower than node does.
    results = runValidation({ tlbLookups: 250_000 });
  });

  test('cover TLB hit rates, page-walk reads, DRAM row hits and PCIe bandwidth and latency', () => {
    const kinds = new Set(results.map((r) => r.name.split('.')[0]));
    expect([...kinds].sort()).toEqual(['dram', 'pcie', 'tlb', 'walk']);
    const pcie = results.filter((r) => r.name.startsWith('pcie.'));
    expect(pcie.filter((r) => r.name.startsWith('pcie.bw.read.')).length).toBeGreaterThanOrEqual(4);
    expect(pcie.filter((r) => r.name.startsWith('pcie.bw.write.')).length).toBeGreaterThanOrEqual(4);
    expect(pcie.filter((r) => r.name.startsWith('pcie.latency.')).map((r) => r.name)).toEqual([
      'pcie.latency.read64.iotlb_hit', 'pcie.latency.read64.iotlb_miss', 'pcie.latency.read64.no_iommu',
    ]);
    expect(results.filter((r) => r.name.startsWith('walk.lpae4k.')).map((r) => r.name)).toEqual([
      'walk.lpae4k.no_walk_cache', 'walk.lpae4k.l2_walk_cache', 'walk.lpae4k.l0_l1_l2_walk_caches',
    ]);
  });

  test('every relative error is below 2%', () => {
    const bad = results.filter((r) => !(r.error < MAX_RELATIVE_ERROR)).map(formatValidation);
    expect(bad).toEqual([]);
    for (const r of results) expect(r.expected).toBeGreaterThan(0);
  });

  test('prints name: expected X, socsim Y, error Z%', () => {
    for (const r of results) expect(formatValidation(r)).toMatch(new RegExp(`^${r.name.replace(/\./g, '\\.')}: expected [0-9.]+, socsim [0-9.]+, error [0-9.]+%`));
  });
});
