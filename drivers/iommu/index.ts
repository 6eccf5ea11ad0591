/** drivers/iommu: the page-table ops table, the LPAE io-pgtable, IOMMU domains, CPU address spaces, and the VCM adapter. */
export * from './ioPgtableArm';
export { iommuPgsize, PagingDomain, type PagingDomainConfig } from './pagingDomain';
export { IommuDomain, type IommuDomainOptions } from './iommuDomain';
export { CpuAddressSpace, type CpuAddressSpaceOptions } from './cpuPgtable';
export { VcmIommuDriver, vcmIommuCreate, type VcmIommuDriverOptions } from './vcmIommuDriver';
export * from './pgtableOps';
