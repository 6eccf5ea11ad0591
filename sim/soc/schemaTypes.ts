import { z } from 'zod';

/**
 * zod building blocks for configs. The quantities and counts live with the component
 * specs in sim/engine/spec (models below sim/soc declare their specs with them); they
 * are re-exported here for the config and scenario schemas.
 */
export { Address, Cycles, Frequency, Name, NonNegativeInt, PositiveInt, Size, Time } from '../engine/spec';

/** Free-form provenance for every number in a config (JSON has no comments). */
export const Notes = z
  .union([z.string(), z.array(z.string()), z.record(z.string(), z.union([z.string(), z.array(z.string())]))])
  .optional()
  .describe('where the numbers come from: public sources or stated assumptions');
