/**
 * JSON-RPC v1 and v2 exactly as XAPI speaks them at `POST /jsonrpc` (xapi-clients.md
 * docs/simulator-behaviour.md#power-states,
 * docs/simulator-behaviour.md#wire-and-dispatch; sources: mirage/ocaml-rpc `src/lib/jsonrpc.ml`, xen-api
 * `ocaml/xapi/api_server.ml`).
 *
 * Pure functions only: the server hands in the request body and gets back the response body.
 */

import { XDateTime, XFloat, XInt32, type XValue } from "../api";

/**
 * Exactly what XAPI sends; xen-api falls back to XML-RPC on any other value (even with `; charset=utf-8`).
 */
export const JSON_CONTENT_TYPE = "application/json";

/**
 * The JSON-RPC dialects XAPI accepts: v2 when the request says `"jsonrpc":"2.0"`, v1 when it says nothing.
 */
export const JsonRpcVersion = { V1: "1.0", V2: "2.0" } as const;
export type JsonRpcVersion = (typeof JsonRpcVersion)[keyof typeof JsonRpcVersion];

/** A request id: XAPI accepts an integer or a string and echoes it with the same JSON type. */
export type JsonRpcId = number | string;

/** A decoded JSON-RPC call. */
export interface JsonRpcRequest {
  readonly version: JsonRpcVersion;
  readonly id: JsonRpcId;
  readonly method: string;
  readonly params: readonly unknown[];
}

/**
 * The body is not a JSON-RPC call XAPI would accept. XAPI answers these with HTTP 500 and an HTML body,
 * not with a JSON-RPC error, so the server must branch on this class.
 */
export class MalformedJsonRpc extends Error {
  override readonly name = "MalformedJsonRpc";
}

/**
 * Decode a request body the way `Jsonrpc.version_id_and_call_of_string` does.
 *
 * @throws MalformedJsonRpc for invalid JSON, a non-object body, a missing/non-string `method`,
 * a `jsonrpc` other than `"2.0"`, bad `params`, or a missing/null/non-scalar `id` (a notification).
 */
export function decodeJsonRpcRequest(body: string): JsonRpcRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new MalformedJsonRpc(`Invalid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(parsed)) throw new MalformedJsonRpc("Invalid request body");
  const method = parsed.method;
  if (method === undefined) throw new MalformedJsonRpc("Required field method is missing");
  if (typeof method !== "string") throw new MalformedJsonRpc("Invalid field 'method' in request body");
  const version = decodeVersion(parsed.jsonrpc);
  const params = decodeParams(version, parsed.params);
  const id = decodeId(parsed.id);
  return { version, id, method, params };
}

// No `jsonrpc` member means v1; anything but the string "2.0" is rejected (jsonrpc.ml).
function decodeVersion(raw: unknown): JsonRpcVersion {
  if (raw === undefined) return JsonRpcVersion.V1;
  if (raw === "2.0") return JsonRpcVersion.V2;
  throw new MalformedJsonRpc("Invalid field 'jsonrpc' in request body");
}

// v1 insists on an array; v2 also takes no params / null (= []) and a single object (= [obj]).
function decodeParams(version: JsonRpcVersion, raw: unknown): readonly unknown[] {
  if (Array.isArray(raw)) return raw;
  if (version === JsonRpcVersion.V1) {
    if (raw === undefined) throw new MalformedJsonRpc("Required field params is missing");
    throw new MalformedJsonRpc("Invalid field 'params' in request body");
  }
  if (raw === undefined || raw === null) return [];
  if (isPlainObject(raw)) return [raw];
  throw new MalformedJsonRpc("Invalid field 'params' in request body");
}

// A missing or null id is a notification, which XAPI refuses (HTTP 500); floats, bools, objects too.
function decodeId(raw: unknown): JsonRpcId {
  if (typeof raw === "string") return raw;
  if (typeof raw === "number" && Number.isSafeInteger(raw)) return raw;
  throw new MalformedJsonRpc("Invalid field 'id' in request body");
}

/**
 * Encode a successful call. v2 has **no `error` key** (xen-api's parser treats `"error":null` as an error);
 * v1 has `"error":null`.
 */
export function encodeJsonRpcSuccess(request: Pick<JsonRpcRequest, "version" | "id">, value: XValue): string {
  const result = encodeJsonValue(value);
  const id = JSON.stringify(request.id);
  if (request.version === JsonRpcVersion.V2) return `{"jsonrpc":"2.0","result":${result},"id":${id}}`;
  return `{"result":${result},"error":null,"id":${id}}`;
}

/**
 * Encode a XAPI failure. v2: `{"code":1,"message":CODE,"data":[params]}` (`error_code_lit = 1L` in
 * api_server.ml); v1: `"error":[CODE, ...params]` with `"result":null`.
 */
export function encodeJsonRpcFailure(
  request: Pick<JsonRpcRequest, "version" | "id">,
  code: string,
  params: readonly string[],
): string {
  const id = JSON.stringify(request.id);
  if (request.version === JsonRpcVersion.V2) {
    const error = `{"code":1,"message":${JSON.stringify(code)},"data":${JSON.stringify(params)}}`;
    return `{"jsonrpc":"2.0","error":${error},"id":${id}}`;
  }
  return `{"result":null,"error":${JSON.stringify([code, ...params])},"id":${id}}`;
}

/**
 * Serialise one value as ocaml-rpc's `rpc_to_json` + Yojson does: int64 as an integer literal,
 * floats always with a fraction or exponent (`1.0`), datetimes as plain strings.
 */
export function encodeJsonValue(value: XValue): string {
  if (value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return formatInt64(value);
  if (value instanceof XFloat) return formatJsonFloat(value.value);
  if (value instanceof XInt32) return formatInt64(value.value);
  if (value instanceof XDateTime) return JSON.stringify(value.value);
  if (Array.isArray(value)) return `[${value.map((item: XValue) => encodeJsonValue(item)).join(",")}]`;
  if (isPlainObject(value)) {
    const members: string[] = [];
    for (const [key, item] of Object.entries(value)) {
      // Absent optional fields are skipped rather than sent as `undefined` (not representable on the wire).
      if (item === undefined) continue;
      members.push(`${JSON.stringify(key)}:${encodeJsonValue(item as XValue)}`);
    }
    return `{${members.join(",")}}`;
  }
  throw new TypeError(`Cannot encode ${describe(value)} as a XAPI value`);
}

// API ints are int64: print every digit (JS would switch to 1e+21 notation); a fraction means a model bug.
function formatInt64(value: number): string {
  if (!Number.isInteger(value)) return formatJsonFloat(value);
  return BigInt(value).toString();
}

// Yojson writes the shortest round-trip form and appends ".0" to integral floats; NaN/Infinity as bare words.
function formatJsonFloat(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
  const text = String(value);
  return /^-?\d+$/.test(text) ? `${text}.0` : text;
}

// Plain objects only: class instances (Date, Map, the X* markers) are not XAPI structs.
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (typeof value === "object" && value !== null) return value.constructor?.name ?? "object";
  return typeof value;
}
