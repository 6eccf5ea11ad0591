import * as fs from 'fs';
import * as path from 'path';
import { jsonSchemas, SCHEMA_DIR } from '../../cli/write-schema';

test('committed JSON Schema files match the zod schemas (run `npm run schema` to refresh)', () => {
  for (const [name, text] of Object.entries(jsonSchemas())) {
    const file = path.join(SCHEMA_DIR, name);
    expect(fs.existsSync(file)).toBe(true);
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
  }
});

test('the SoC schema describes the fields editors complete', () => {
  const schema = JSON.parse(jsonSchemas()['schema.json']);
  expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['clocks', 'memories', 'buses', 'bridges', 'devices']));
  expect(schema.additionalProperties).toBe(false);
});
