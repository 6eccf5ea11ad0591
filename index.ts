/**
 * socsim's public API. Hardware models live in `sim/`, the kernel layer in `drivers/`,
 * and `run()` is the composition root shared by the CLI, benchmarks and tests.
 */
export * from './sim/engine';
export { Cmd, Status, STATUS_NAMES, Transaction, TransactionPool } from './sim/bus/transaction';
export { RequestPort, ResponsePort, connectPorts, type RequestReceiver, type ResponseReceiver } from './sim/bus/port';
export type { AddrRange } from './sim/bus/addrRange';
export { Crossbar, type CrossbarParams, type Arbitration } from './sim/bus/crossbar';
export { Bridge, type BridgeParams } from './sim/bus/bridge';
export { PhysicalMemory } from './sim/mem/physmem';
export { AddressMap, type Region, type RegionKind } from './sim/mem/addressMap';
export { DramController } from './sim/mem/dram';
export type { DramParams, DramTiming } from './sim/mem/dramSpec';
export { SimpleMemory, type SramParams } from './sim/mem/sram';
export { DmaEngine, type DmaEngineParams, type DmaCopyResult } from './sim/devices/dmaEngine';
export { buildSoc, loadSocConfig, validateSocConfig, Soc } from './sim/soc/builder';
export { SocConfigSchema, type SocConfig } from './sim/soc/schema';
// Registries: add a device kind, a job kind; look up page-table ops and bus masters.
export { registerDeviceKind, deviceKind, deviceKinds } from './sim/soc/deviceRegistry';
export { defineDeviceKind, deviceFields, BurstBytes, DeviceBufferBytes, Outstanding, type DeviceKindEntry, type DeviceBuildEnv, type DeviceModel } from './sim/soc/deviceSpec';
export { registerJobKind, jobKind, jobKinds } from './scenario/jobRegistry';
export { defineJobKind, jobFields, withRules, runningJob, jobBuffer, jobPlatform, type JobKindEntry, type JobEnv, type JobCheckContext, type JobIssue } from './scenario/jobSpec';
export { MasterRegistry } from './sim/engine/masters';
export { pgtableOps } from './drivers/iommu/pgtableOps';
export { run, runLoaded, type RunOptions, type RunOutput } from './scenario/run';
export { loadScenario, loadSocConfigWith, type LoadedScenario } from './scenario/load';
export { resolveScenario, scenarioFileOf } from './scenario/resolve';
export { parseOverride, applyOverrides, type Override } from './scenario/overrides';
export { bundledScenarioNames, bundledScenarioFile, socConfigsDir } from './scenario/bundled';
export { headline, headlineOf, formatHeadline, type HeadlineRow, type HeadlineSource } from './scenario/headline';
export { ScenarioSchema, type Scenario } from './scenario/schema';
export { main as cliMain } from './cli/main';
export { CpuMmu } from './sim/mmu/cpuMmu';
export { Iommu, type IommuCommand, type IommuParams } from './sim/mmu/iommu';
export { DirectMap } from './sim/mmu/directMap';
export { Tlb, type TlbParams } from './sim/mmu/tlb';
export { PageTableWalker, stage2Tag, type Stage2Context } from './sim/mmu/walker';
export { NestedWalker } from './sim/mmu/nestedWalker';
export { FORMATS, getFormat, armLpaeFormat, STAGE2_FORMATS, armLpaeS2Format } from './sim/mmu/format';
export type { PageTableFormat } from './sim/mmu/format/types';
export { inspectPageTables, type PageTableView, type MappedRun } from './sim/mmu/pageTableView';
export { pageTablesDoc, type PageTablesDoc } from './scenario/pageTables';
export { CpuCache } from './sim/devices/cpuCache';
export { CoherentPort } from './sim/devices/coherentPort';

// Kernel layer
export { Kernel } from './drivers/kernel';
export { KernelError, Errno, errFromRet, unwrapErrPtr } from './drivers/errno';
export { bootPlatform, Platform, type DevicePlatformData } from './drivers/platform';
export * as vcm from './drivers/vcm';
export * as iommu from './drivers/iommu';
export * as nvkm from './drivers/iommu/nvkm';
export { BuddyAllocator } from './drivers/mm/buddy';
export { GenPool } from './drivers/mm/genpool';
export { ContiguousRegion } from './drivers/mm/contiguous';
export * as dma from './drivers/dma';
export * as deviceDrivers from './drivers/devices';
export { KernelCpu, PAGE_OFFSET, UNCACHED_OFFSET } from './drivers/kernelCpu';

// Device models and workloads
export { TrafficGenerator, type TrafficGeneratorParams } from './sim/devices/trafficGenerator';
export { createWorkload, validateWorkloadSpec, type Workload, type WorkloadSpec } from './sim/devices/workload';
export { GpuEngine, type GpuEngineParams } from './sim/devices/gpuEngine';
export { DisplayController, type DisplayControllerParams } from './sim/devices/display';
export { CameraIsp, type CameraIspParams } from './sim/devices/camera';
export { Nic, type NicParams } from './sim/devices/nic';
export { DescDma } from './sim/devices/descDma';
export { CpuCore, type CpuCoreParams } from './sim/devices/cpuCore';
export * as memTrace from './sim/devices/memTrace';

// Traces and benchmarks
export { ChromeTraceWriter, chromeTraceFromJsonl } from './sim/engine/chromeTrace';
export { traceDiffCommand } from './cli/traceDiff';
