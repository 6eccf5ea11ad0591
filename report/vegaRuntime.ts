import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';

/**
 * Vega and Vega-Lite at run time. Both are ES modules with top-level await, which a
 * CommonJS build cannot require(); TypeScript compiles `import()` to require(), so the
 * import is made through a Function the compiler leaves alone. Loaded only by
 * `socsim report`, so no other command pays for them.
 */
const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;

/** The parts of vega's API the SVG export uses. */
export interface VegaModule {
  parse(spec: unknown): unknown;
  View: new (runtime: unknown, opts: { renderer: 'none' }) => { toSVG(): Promise<string>; finalize(): void };
}
export interface VegaLiteModule {
  compile(spec: unknown): { spec: unknown };
}

export async function loadVega(): Promise<{ vega: VegaModule; vegaLite: VegaLiteModule }> {
  const load = (name: string): Promise<unknown> => importModule(pathToFileURL(require.resolve(name)).href);
  const [vega, vegaLite] = await Promise.all([load('vega'), load('vega-lite')]);
  return { vega: vega as VegaModule, vegaLite: vegaLite as VegaLiteModule };
}

/** The minified browser builds the HTML report inlines, in load order (vega-embed needs the other two). */
export const BROWSER_BUILDS = [
  ['vega', 'build/vega.min.js'],
  ['vega-lite', 'build/vega-lite.min.js'],
  ['vega-embed', 'build/vega-embed.min.js'],
] as const;

/** The browser builds' source, read from node_modules. */
export function browserScripts(): string[] {
  return BROWSER_BUILDS.map(([pkg, file]) => {
    // The package's own directory: its exports map hides package.json, so resolve the entry and walk up.
    let dir = path.dirname(require.resolve(pkg));
    while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
    return fs.readFileSync(path.join(dir, file), 'utf8');
  });
}
