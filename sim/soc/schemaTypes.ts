import { z } from 'zod';
import { parseAddress, parseFrequency, parseSize, parseTime, UnitError } from '../engine/units';

/**
 * zod building blocks for configs: quantities accepted as numbers or friendly strings,
 * converted to plain numbers while parsing, and reported with the parser's reason.
 */
function quantity(parse: (v: unknown) => number, description: string) {
  return z
    .union([z.number(), z.string()])
    .transform((v, ctx) => {
      try {
        return parse(v);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: e instanceof UnitError ? e.message : String(e) });
        return z.NEVER;
      }
    })
    .describe(description);
}

export const Size = quantity(parseSize, 'bytes: 4096, "4KiB", "16MiB"');
export const Address = quantity(parseAddress, 'physical address: 2147483648 or "0x8000_0000"');
export const Time = quantity(parseTime, 'time: picoseconds as a number, or "250ns", "10us", "1.5ms"');
export const Frequency = quantity(parseFrequency, 'frequency: Hz as a number, or "800MHz", "1.2GHz"');

export const Name = z
  .string()
  .regex(/^[a-z][a-z0-9_]*$/, 'must be lower-case letters, digits and _, starting with a letter')
  .describe('component name; becomes part of stat names');

export const PositiveInt = z.number().int().positive();
export const NonNegativeInt = z.number().int().nonnegative();

/** Free-form provenance for every number in a config (JSON has no comments). */
export const Notes = z
  .union([z.string(), z.array(z.string()), z.record(z.string(), z.union([z.string(), z.array(z.string())]))])
  .optional()
  .describe('where the numbers come from: public sources or stated assumptions');
