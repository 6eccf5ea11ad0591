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
export { DramController, type DramParams, type DramTiming } from './sim/mem/dram';
export { SimpleMemory, type SramParams } from './sim/mem/sram';
export { DmaEngine, type DmaEngineParams, type DmaCopyResult } from './sim/devices/dmaEngine';
export { buildSoc, loadSocConfig, validateSocConfig, Soc } from './sim/soc/builder';
export { SocConfigSchema, type SocConfig } from './sim/soc/schema';
export { run, runLoaded, type RunOptions, type RunOutput } from './cli/run';
export { loadScenario, type LoadedScenario } from './cli/scenario';
export { ScenarioSchema, type Scenario } from './cli/scenarioSchema';
export { main as cliMain } from './cli/main';
