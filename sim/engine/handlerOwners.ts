/**
 * Which component an event handler belongs to, for error messages only (the engine's
 * time-limit error names the component that scheduled too late). Registered once after
 * a SoC is built, by walking its components; nothing on the event path reads it.
 */

const owners = new WeakMap<object, string>();

/** The component path a handler was registered under, or a name made from the function. */
export function handlerOwner(fn: unknown): string {
  if (typeof fn === 'function') {
    const owner = owners.get(fn);
    if (owner !== undefined) return owner;
    const name = fn.name.replace(/^bound /, '');
    return name ? `event handler ${name}` : 'an anonymous event handler';
  }
  return 'an event handler';
}

/** A simulated component: an object that names itself with a `path` ("soc.gpu_iommu.walker"). */
function componentPath(v: object): string | null {
  const p = (v as { path?: unknown }).path;
  return typeof p === 'string' && p.length > 0 ? p : null;
}

/**
 * Registers the handlers of every component reachable from `root` through component
 * properties (and arrays and Maps of components): each own function-valued property and
 * the `fire` function of each event handle, of the component and of the plain records it
 * holds directly (a crossbar's outputs), belongs to that component's path. Only
 * components are descended into further, so large tables are walked one level at most.
 */
export function registerHandlerOwners(root: object): void {
  const seen = new Set<object>();
  const claim = (fn: unknown, path: string | null): void => {
    if (typeof fn === 'function' && path !== null && !owners.has(fn)) owners.set(fn, path);
  };
  /** Claims `v`'s handlers for `path`; descends into components always, into plain records when `deep`. */
  const visit = (v: object, path: string | null, deep: boolean): void => {
    if (seen.has(v) || ArrayBuffer.isView(v)) return;
    seen.add(v);
    const values = v instanceof Map ? [...v.values()] : Object.values(v);
    for (const value of values) {
      if (typeof value === 'function') claim(value, path);
      else if (value !== null && typeof value === 'object') {
        const own = componentPath(value);
        if (own !== null) visit(value, own, true);
        else if (typeof (value as { fire?: unknown }).fire === 'function') claim((value as { fire: unknown }).fire, path);
        else if (deep) visit(value, path, Array.isArray(value) || value instanceof Map);
      }
    }
  };
  visit(root, componentPath(root), true);
}
