import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { SocConfigSchema } from '../sim/soc/schema';
import { deviceConfigSchema } from '../sim/soc/deviceRegistry';
import { ScenarioSchema } from '../scenario/schema';
import { jobConfigSchema } from '../scenario/jobRegistry';
import { SweepSpecSchema } from '../scenario/sweepSpec';

/**
 * JSON Schema files for editors, generated from the zod schemas (input side: what a
 * person writes, before sizes and addresses are converted). `npm run schema` rewrites
 * them; a test fails when the committed files are out of date. `devices` and `jobs` are
 * parsed with the kinds registered at parse time; the files list the registered ones.
 */
export function jsonSchemas(): Record<string, string> {
  const render = (schema: z.ZodType, title: string) =>
    JSON.stringify({ title, ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) }, null, 2) + '\n';
  return {
    'schema.json': render(SocConfigSchema.extend({
      devices: z.array(deviceConfigSchema()).default([]),
    }), 'socsim SoC config'),
    'scenario.schema.json': render(ScenarioSchema.extend({
      jobs: z.array(jobConfigSchema()).min(1),
    }), 'socsim scenario'),
    'sweep.schema.json': render(SweepSpecSchema, 'socsim sweep spec'),
  };
}

export const SCHEMA_DIR = path.join(__dirname, '..', 'soc-configs');

if (require.main === module) {
  for (const [name, text] of Object.entries(jsonSchemas())) {
    fs.writeFileSync(path.join(SCHEMA_DIR, name), text);
    process.stdout.write(`wrote soc-configs/${name}\n`);
  }
}
