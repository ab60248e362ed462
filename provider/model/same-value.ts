/**
 * Sameness of JSON values, the one comparison the planner, the executor and the resource use to decide
 * whether a value already is what is declared.
 */

/**
 * Deep equality of JSON values: primitives by `===`, arrays element by element, objects key by key in
 * any order; a key whose value is `undefined` counts as absent.
 *
 * @example sameValue({ order: "cd", firmware: "bios" }, { firmware: "bios", order: "cd" }) === true
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return (
      Array.isArray(a) &&
      Array.isArray(b) &&
      a.length === b.length &&
      a.every((value, i) => sameValue(value, b[i]))
    );
  }
  const ka = definedKeys(a);
  const kb = definedKeys(b);
  const rb = b as Record<string, unknown>;
  const ra = a as Record<string, unknown>;
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameValue(ra[k], rb[k]));
}

function definedKeys(o: object): string[] {
  return Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k)
    .sort();
}
