/**
 * The persistent state of xapi-sim: its types, and the reader of state files (validation, defaults,
 * the upgrade of older files). The engine's persistence unit loads and dumps it.
 */
export { parseSnapshot } from "./parse";
export * from "./types";
