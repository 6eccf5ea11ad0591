import { main, type CliIO } from '../../cli/main';

/** Runs the CLI in this process (no build needed) and collects its exit code, stdout and stderr. */
export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => { out += t; }, err: (t) => { err += t; } };
  const code = await main(args, io);
  return { code, out, err };
}
