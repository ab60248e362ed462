/**
 * The JSON-RPC v2 transport: `POST {url}/jsonrpc` over Node's own http/https stack with a keep-alive
 * agent. A transport is one function `(method, params) → Promise<result>` (plus `close()`); it knows
 * nothing about sessions. Each wire quirk lives in a small named helper below.
 */
import * as http from "node:http";
import * as https from "node:https";
import { ClientErrorCode, XapiError, XapiTransportError } from "./errors";
import { createAgent, type TlsOptions, TlsPolicyError, validateTlsOptions } from "./tls";

/** Options of {@link createJsonRpcTransport}. */
export interface TransportOptions extends TlsOptions {
  /** Base URL of the host, e.g. `https://xcp-host` (a path prefix is kept). */
  readonly url: string;
  /** Per-request timeout (socket inactivity). @default 60000 */
  readonly requestTimeoutMs?: number | undefined;
  /**
   * Methods that may be re-sent after a reused keep-alive socket failed before any response.
   * @default none: the caller decides what to retry
   */
  readonly resendOnStaleSocket?: ((method: string) => boolean) | undefined;
}

/** Sends one JSON-RPC request; resolves with `result`, rejects with XapiError / XapiTransportError. */
export interface Transport {
  (method: string, params: readonly unknown[]): Promise<unknown>;
  /** The endpoint URL (`…/jsonrpc`). */
  readonly endpoint: string;
  /** Close idle keep-alive sockets. */
  close(): void;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

/** Build a transport for one host. Throws TypeError for malformed URLs or contradictory TLS options. */
export function createJsonRpcTransport(options: TransportOptions): Transport {
  const base = parseBaseUrl(options.url);
  validateTlsOptions(base, options);
  const endpoint = jsonRpcEndpoint(base);
  const agent = createAgent(base, options);
  const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const resendable = options.resendOnStaleSocket ?? (() => false);
  let nextId = 0;

  const send = async (method: string, params: readonly unknown[]): Promise<unknown> => {
    const id = nextId++;
    const body = JSON.stringify({ jsonrpc: "2.0", method, params, id });
    let response: HttpResponse;
    try {
      response = resendable(method)
        ? await postWithStaleSocketRetry(endpoint, agent, body, timeoutMs)
        : await post(endpoint, agent, body, timeoutMs);
    } catch (error) {
      throw toTransportError(error, method, endpoint.href);
    }
    return decodeResponse(response, id, method, endpoint.href);
  };
  return Object.assign(send, { endpoint: endpoint.href, close: () => agent.destroy() });
}

/** Why: users paste host names without a scheme; XAPI hosts serve HTTPS, so that is the default. */
function parseBaseUrl(url: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`;
  let parsed: URL;
  try {
    parsed = new URL(withScheme);
  } catch (cause) {
    throw new TypeError(
      `Invalid XAPI url: expected e.g. "https://xcp-host", received ${JSON.stringify(url)}`,
      {
        cause,
      },
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new TypeError(
      `Invalid XAPI url: expected an http:// or https:// URL, received "${parsed.protocol}//…"`,
    );
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new TypeError(
      "Invalid XAPI url: credentials in the URL are not accepted; pass username/password instead.",
    );
  }
  return parsed;
}

/**
 * Why: XAPI serves JSON-RPC on `/jsonrpc` (xen-api ocaml/xapi-consts/constants.ml `jsonrpc_uri`); a
 * reverse-proxy path prefix is kept.
 */
function jsonRpcEndpoint(base: URL): URL {
  const endpoint = new URL(base.href);
  endpoint.pathname = `${endpoint.pathname.replace(/\/+$/, "")}/jsonrpc`;
  endpoint.search = "";
  endpoint.hash = "";
  return endpoint;
}

interface HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/**
 * Why: a keep-alive socket the server closed while idle fails with ECONNRESET (or EPIPE) on reuse,
 * before any response (Node's documented pattern: `request.reusedSocket`). The same symptom also
 * appears when the server drops the connection after reading the request, so only methods the
 * caller marks as safe to repeat are re-sent here.
 */
async function postWithStaleSocketRetry(
  url: URL,
  agent: http.Agent,
  body: string,
  timeoutMs: number,
): Promise<HttpResponse> {
  try {
    return await post(url, agent, body, timeoutMs);
  } catch (error) {
    if (error instanceof StaleSocketError) return post(url, agent, body, timeoutMs);
    throw error;
  }
}

class StaleSocketError extends Error {}
class RequestTimeoutError extends Error {}

function post(url: URL, agent: http.Agent, body: string, timeoutMs: number): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const request = (url.protocol === "https:" ? https : http).request(url, {
      method: "POST",
      agent,
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        "content-length": Buffer.byteLength(body),
        "user-agent": "pulumi-xapi",
      },
    });
    let gotResponse = false;
    request.setTimeout(timeoutMs, () =>
      request.destroy(new RequestTimeoutError(`no response within ${timeoutMs} ms`)),
    );
    request.on("error", (error: NodeJS.ErrnoException) => {
      const stale =
        request.reusedSocket && !gotResponse && (error.code === "ECONNRESET" || error.code === "EPIPE");
      reject(stale ? new StaleSocketError(error.message, { cause: error }) : error);
    });
    request.on("response", (response) => {
      gotResponse = true;
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          contentType: String(response.headers["content-type"] ?? ""),
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
    request.end(body);
  });
}

function toTransportError(error: unknown, method: string, url: string): XapiTransportError {
  if (error instanceof XapiTransportError) return error;
  if (error instanceof RequestTimeoutError) {
    return new XapiTransportError(
      ClientErrorCode.REQUEST_TIMEOUT,
      `Request timed out: ${error.message}`,
      method,
      url,
      {
        cause: error,
      },
    );
  }
  if (error instanceof TlsPolicyError) {
    return new XapiTransportError(error.code, error.message, method, url, { cause: error });
  }
  const cause = error instanceof StaleSocketError ? error.cause : error;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code ?? ClientErrorCode.NETWORK;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new XapiTransportError(code, `Network failure (${code}): ${detail}`, method, url, { cause });
}

/** Turn an HTTP response into the call's result, a XapiError, or a XapiTransportError. */
function decodeResponse(response: HttpResponse, id: number, method: string, url: string): unknown {
  if (response.status !== 200) {
    throw new XapiTransportError(
      ClientErrorCode.HTTP_STATUS,
      `Unexpected HTTP status ${response.status}${response.status === 404 ? " (does this host serve /jsonrpc? XenServer ≥ 7.3 / XCP-ng do)" : ""}`,
      method,
      url,
      { status: response.status },
    );
  }
  let message: unknown;
  try {
    message = JSON.parse(response.body);
  } catch (cause) {
    throw new XapiTransportError(
      ClientErrorCode.BAD_RESPONSE,
      `Response is not JSON (content-type "${response.contentType}")`,
      method,
      url,
      { cause },
    );
  }
  if (!isRecord(message) || !idMatches(message.id, id)) {
    throw new XapiTransportError(
      ClientErrorCode.BAD_RESPONSE,
      "Response is not a JSON-RPC answer to this request",
      method,
      url,
    );
  }
  const failure = errorFromWire(message.error, method);
  if (failure !== undefined) throw failure;
  if (!("result" in message)) {
    throw new XapiTransportError(
      ClientErrorCode.BAD_RESPONSE,
      "JSON-RPC response has neither result nor error",
      method,
      url,
    );
  }
  return message.result;
}

/** Why: XAPI echoes the request id as sent; some proxies stringify numbers, so compare loosely. */
function idMatches(received: unknown, sent: number): boolean {
  return received === sent || received === String(sent);
}

/**
 * Why: XAPI answers v2 failures as `{code: 1, message: CODE, data: [params]}` but v1 (and XenServer
 * < 7.3) as an `[CODE, ...params]` array; `error: null` means success in v1.
 */
function errorFromWire(error: unknown, method: string): XapiError | undefined {
  if (error === undefined || error === null) return undefined;
  if (Array.isArray(error)) return XapiError.fromDescription(error, method);
  if (isRecord(error)) {
    const params = Array.isArray(error.data) ? error.data.map(String) : [];
    return new XapiError(String(error.message ?? "UNKNOWN_ERROR"), params, method);
  }
  return new XapiError(String(error), [], method);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
