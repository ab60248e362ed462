/**
 * The unmodified npm `xen-api` client (Vates, as Xen Orchestra uses it) for the tests that check xapi-sim
 * through it. The package is ESM-only and ships no types: each test names the slice of its `Xapi` class
 * it uses.
 */
import { ROOT } from "./client-sim";

/** What every client here needs of the `Xapi` class. */
export interface Connectable {
  readonly objectsFetched: Promise<void>;
  connect(): Promise<void>;
}

/** xen-api's `createClient`, typed as the caller's slice of `Xapi`. */
export type CreateClient<X> = (options: Record<string, unknown>) => X;

/** Loads xen-api's `createClient`. */
export async function loadCreateClient<X>(): Promise<CreateClient<X>> {
  // A computed specifier keeps TypeScript from wanting the package's (absent) types.
  const specifier: string = "xen-api";
  return ((await import(specifier)) as { createClient: CreateClient<X> }).createClient;
}

/**
 * A client of the fixture's `root` at `url` (self-signed TLS allowed, events debounced 20 ms so that the
 * cache follows quickly), connected, with its object cache filled. `options` adds to or overrides them
 * (`transport`: "json-rpc" or "xml-rpc").
 */
export async function connectedClient<X extends Connectable>(
  createClient: CreateClient<X>,
  url: string,
  options: Record<string, unknown> = {},
): Promise<X> {
  const xapi = createClient({
    url,
    auth: { user: ROOT.username, password: ROOT.password },
    allowUnauthorized: true,
    debounce: 20,
    ...options,
  });
  await xapi.connect();
  await xapi.objectsFetched;
  return xapi;
}
