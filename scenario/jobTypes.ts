/** What a job reports when the run ends. */
export interface JobResult {
  name: string;
  kind: string;
  done: boolean;
  status: string;
  /** null when not verified (verification off, or the job did not finish). */
  verified: boolean | null;
  detail: Record<string, number | string | null>;
}

/** A started job: its progress, and its result once the run is over. */
export interface RunningJob {
  readonly name: string;
  progress(): number;
  isDone(): boolean;
  result(): JobResult;
}
