/**
 * The seam between xapi-sim's wire layer (HTTP, JSON-RPC, XML-RPC: `simulator/wire/*`,
 * `simulator/server.ts`) and its object model (`simulator/model/*`). The wire layer decodes a
 * request into (method, params), calls `dispatch`, and encodes the outcome exactly as XAPI does.
 */

/** A float on the wire: `<double>` in XML-RPC, a JSON number with a fraction (`1.0`) in JSON-RPC. */
export class XFloat {
  constructor(readonly value: number) {}
}

/**
 * A datetime on the wire: `<dateTime.iso8601>` in XML-RPC, a string in JSON-RPC. Format `YYYYMMDDTHH:MM:SSZ`.
 */
export class XDateTime {
  constructor(readonly value: string) {}
}

/** A 32-bit int (`<i4>` in XML-RPC). XAPI uses it only for `event.from`'s `valid_ref_counts`. */
export class XInt32 {
  constructor(readonly value: number) {}
}

/**
 * A value the model returns. A JS `number` is an API int64 (untagged text in XML-RPC, a JSON
 * number); strings, booleans, arrays and plain objects (maps/records) map as usual.
 */
export type XValue =
  | string
  | number
  | boolean
  | XFloat
  | XDateTime
  | XInt32
  | null
  | readonly XValue[]
  | { readonly [key: string]: XValue };

/** A XAPI failure: `ErrorDescription = [code, ...params]` on the wire. */
export class XapiFault extends Error {
  override readonly name = "XapiFault";
  constructor(
    readonly code: string,
    readonly params: readonly string[] = [],
  ) {
    super(`${code}(${params.join(", ")})`);
  }
}

/** Thrown by `dispatch` when an injected fault asks the wire layer to drop the connection. */
export class DropConnection extends Error {
  override readonly name = "DropConnection";
}

/** Where a call came from, for logs and per-host behaviour (HOST_IS_SLAVE on the member host). */
export interface CallMeta {
  /** Which simulated host received the request: "master" or "member". */
  readonly host: "master" | "member";
  /** "jsonrpc" | "xmlrpc": for the call log only. */
  readonly transport: "jsonrpc" | "xmlrpc";
}

/**
 * The model's entry point: run one XAPI call. Params are already decoded (session first, where the call takes
 * one).
 */
export type Dispatch = (method: string, params: readonly unknown[], meta: CallMeta) => Promise<XValue>;
