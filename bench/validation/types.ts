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
