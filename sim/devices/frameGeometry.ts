/** A frame in memory as display and camera engines describe it. */
export interface FrameGeometry {
  /** Device address of the first line. */
  base: number;
  /** Pixels per line. */
  width: number;
  /** Lines per frame. */
  height: number;
  bytesPerPixel: number;
  /** Bytes from one line's start to the next's (>= width × bytesPerPixel). */
  pitchBytes: number;
}

/**
 * The checks display and camera parameters share: base, width, height, bytesPerPixel
 * and pitchBytes; "field: reason" for the first bad one, or null.
 */
export function validateFrameGeometry(p: FrameGeometry): string | null {
  const posInt = (v: number) => Number.isSafeInteger(v) && v > 0;
  if (!Number.isSafeInteger(p.base) || p.base < 0) return `base: must be a non-negative integer address, got ${p.base}`;
  if (!posInt(p.width)) return `width: must be a positive integer, got ${p.width}`;
  if (!posInt(p.height)) return `height: must be a positive integer, got ${p.height}`;
  if (!posInt(p.bytesPerPixel)) return `bytesPerPixel: must be a positive integer, got ${p.bytesPerPixel}`;
  const lineBytes = p.width * p.bytesPerPixel;
  if (!Number.isSafeInteger(p.pitchBytes) || p.pitchBytes < lineBytes) {
    return `pitchBytes: must be an integer >= width × bytesPerPixel (${lineBytes}), got ${p.pitchBytes}`;
  }
  return null;
}
