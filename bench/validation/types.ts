/** One validation row: socsim against a closed form (bench/validation.ts prints them). */
export interface ValidationResult {
  name: string;
  expected: number;
  actual: number;
  /** |actual - expected| / expected, as a fraction. */
  error: number;
  /** The closed form and the workload, for the printout. */
  note: string;
}

/** A row with its relative error computed. */
export function result(name: string, expected: number, actual: number, note: string): ValidationResult {
  return { name, expected, actual, error: Math.abs(actual - expected) / Math.abs(expected), note };
}
