/**
 * The page-table formats socsim knows, by name (issue 3). Configs name a format; walkers,
 * drivers and tests look it up here.
 */

import type { PageTableFormat } from './types';
import { nvGf100_128k, nvGf100_64k } from './nvGf100';
import { nvGp100 } from './nvGp100';
import { armLpae16k, armLpae4k, armLpae64k, armLpaeS2_16k, armLpaeS2_4k, armLpaeS2_64k } from './armLpae';

export * from './types';
export { nvGf100_128k, nvGf100_64k } from './nvGf100';
export { nvGp100 } from './nvGp100';
export {
  armLpae16k, armLpae4k, armLpae64k, armLpaeFormat, armLpaeGeometry, armLpaeIsContiguous, ARM_LPAE_GRANULES, type ArmLpaeGranule,
  armLpaeS2_4k, armLpaeS2_16k, armLpaeS2_64k, armLpaeS2Format, armLpaeS2StartLevel, S2_MAX_CONCAT,
} from './armLpae';

/** Every format, keyed by `format.name`. */
export const FORMATS: Record<string, PageTableFormat> = Object.freeze({
  [nvGf100_128k.name]: nvGf100_128k,
  [nvGf100_64k.name]: nvGf100_64k,
  [nvGp100.name]: nvGp100,
  [armLpae4k.name]: armLpae4k,
  [armLpae16k.name]: armLpae16k,
  [armLpae64k.name]: armLpae64k,
});

/**
 * Stage-2 (IPA -> PA) formats, by name (issue 17). Not in FORMATS: a translation unit's
 * own format is the stage-1 one its contexts walk; a stream's stage-2 tables are named by
 * its context (Iommu.setStreamContext with `stage2`).
 */
export const STAGE2_FORMATS: Record<string, PageTableFormat> = Object.freeze({
  [armLpaeS2_4k.name]: armLpaeS2_4k,
  [armLpaeS2_16k.name]: armLpaeS2_16k,
  [armLpaeS2_64k.name]: armLpaeS2_64k,
});

/** Names of all formats, in the order above. */
export const FORMAT_NAMES: readonly string[] = Object.freeze(Object.keys(FORMATS));

/** The format called `name`; throws an Error listing the known names if there is none. */
export function getFormat(name: string): PageTableFormat {
  if (!Object.prototype.hasOwnProperty.call(FORMATS, name)) {
    throw new Error(`unknown page-table format ${JSON.stringify(name)}; known formats: ${FORMAT_NAMES.join(', ')}`);
  }
  return FORMATS[name];
}
