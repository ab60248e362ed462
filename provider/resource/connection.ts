/**
 * The provider process's connection to its pool. Connection settings and XAPI sessions live here, in
 * module state of that process, never in the Pulumi state. `configure` records the settings (or why there
 * are none: the error is raised by the first method that needs XAPI, so previews work without
 * credentials); every method then shares one connection per pool (`provider/client/`).
 */
import { closeAllConnections, getConnection, type XapiConnection } from "../client";
import { type ConnectionSettings, readConnectionSettings } from "./config";
import { ProviderError } from "./errors";

/** The connection settings of this provider process (`configure`), or why there are none. */
let settings: ConnectionSettings | ProviderError | undefined;

/** Records the settings `configure` read (stack config, then environment). */
export function useSettings(read: ConnectionSettings | ProviderError): void {
  settings = read;
}

/** The configured settings, when there are valid ones. */
export function configuredSettings(): ConnectionSettings | undefined {
  return settings instanceof ProviderError ? undefined : settings;
}

/** The shared connection of this process for the configured pool. @throws ProviderError the missing setting */
export function connect(): XapiConnection {
  const s = settings ?? readConnectionSettings(() => undefined, process.env);
  if (s instanceof ProviderError) throw s;
  installShutdownHook();
  return getConnection({
    url: s.url,
    username: s.username,
    password: s.password,
    ...(s.caCert === undefined ? {} : { caCert: s.caCert }),
    ...(s.fingerprint === undefined ? {} : { fingerprint: s.fingerprint }),
    ...(s.insecure === undefined ? {} : { insecure: s.insecure }),
    ...(s.maxConcurrentOperations === undefined
      ? {}
      : { maxConcurrentOperations: s.maxConcurrentOperations }),
  });
}

/** The connection, or why there is none. */
export type ConnectionSource = () => XapiConnection | ProviderError;

/** The connection, or the reason there is none (for a preview, which then plans from the inputs). */
export const connectOrWhyNot: ConnectionSource = () => {
  try {
    return connect();
  } catch (error) {
    if (error instanceof ProviderError) return error;
    throw error;
  }
};

/** How long the provider process waits for its sessions to log out when the engine stops it. */
const LOGOUT_GRACE_MS = 3000;
let shutdownHookInstalled = false;

/**
 * The engine stops a provider with SIGINT (then SIGKILL after 5 s), and the gRPC server keeps Node's
 * event loop busy, so `beforeExit` never fires: log the shared sessions out on the signal instead,
 * so no session is left open on the pool after a `pulumi` command.
 */
function installShutdownHook(): void {
  if (shutdownHookInstalled) return;
  shutdownHookInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      setTimeout(() => process.exit(0), LOGOUT_GRACE_MS).unref();
      void closeAllConnections().finally(() => process.exit(0));
    });
  }
}
