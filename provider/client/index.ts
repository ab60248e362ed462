/**
 * The XAPI client: one JSON-RPC transport, one shared session per (url, username), async calls with
 * task polling. Import from here.
 */
export type { Backoff } from "./backoff";
export {
  type ConnectionOptions,
  closeAllConnections,
  getConnection,
  type XapiConnection,
} from "./connection";
export {
  ClientErrorCode,
  isTransientTransportError,
  isXapiError,
  XapiError,
  XapiErrorCode,
  XapiTimeoutError,
  XapiTransportError,
} from "./errors";
export { parseTaskResult, type TaskRecord } from "./task";
export { normalizeFingerprint } from "./tls";
