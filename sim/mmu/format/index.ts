/**
 * The page-table formats socsim knows, by name (issue 3). Configs name a format; walkers,
 * drivers and tests look it up here.
 */

import type { PageTableFormat } from './types';
import { nvGf100_128k, nvGf100_64k } from './nvGf100';
import { nvGp100 } from './nvGp100';
import { armLpae16k, armLpae4k, armLpae64k } from './armLpae';

export * from './types';
export { nvGf100_128k, nvGf100_64k } from './nvGf100';
export { nvGp100 } from './nvGp100';
export { armLpae16k, armLpae4k, armLpae64k, armLpaeFormat, armLpaeGeometry, armLpaeIsContiguous, ARM_LPAE_GRANULES, type ArmLpaeGranule } from './armLpae';

/** Every format, keyed by `format.name`. */
export const FORMATS: Record<string, PageTableFormat> = Object.freeze({
  [nvGf100_128k.name]: nvGf100_128k,
  [nvGf100_64k.name]: nvGf100_64k,
  [nvGp100.name]: nvGp100,
  [armLpae4k.name]: armLpae4k,
  [armLpae16k.name]: armLpae16k,
  [armLpae64k.name]: armLpae64k,
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
