/**
 * The XAPI client: one JSON-RPC transport, one shared session per (url, username), async calls waited
 * for by one `event.from` long-poll per session and bounded per pool. Import from here.
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
export { DEFAULT_MAX_CONCURRENT_OPERATIONS } from "./limit";
export { parseTaskResult, type TaskRecord } from "./task";
export { normalizeFingerprint } from "./tls";
