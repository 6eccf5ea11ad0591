import { createSimContext } from '../../sim/engine/context';
import { TrafficGenerator } from '../../sim/devices/trafficGenerator';
import type { WorkloadSpec } from '../../sim/devices/workload';
import { parseWithSchema } from '../../sim/soc/loadJson';
import { SocConfigSchema } from '../../sim/soc/schema';
import { buildSoc, validateSocConfig, type Soc } from '../../sim/soc/builder';

/** A SoC built from a config object, checked as a file would be (`file` names it in errors). */
export function buildValidationSoc(cfg: unknown, file: string): Soc {
  const parsed = parseWithSchema(SocConfigSchema, cfg, file, 'soc');
  validateSocConfig(parsed, file);
  return buildSoc(createSimContext(1), parsed, file);
}

/** Runs one workload on the SoC's traffic generator `tg` to completion; `what` names the bench in errors. */
export function runTraffic(soc: Soc, spec: WorkloadSpec, what: string): void {
  const gen = soc.model('tg', TrafficGenerator);
  gen.configure({ streams: [spec] });
  let done = false;
  gen.start((r) => {
    if (r.errors > 0) throw new Error(`${what} traffic: ${r.errors} accesses failed`);
    done = true;
  });
  soc.ctx.engine.runUntilIdle();
  if (!done) throw new Error(`${what} traffic did not finish`);
}
