/**
 * xapi-sim's HTTP(S) front end: routes each request to JSON-RPC, XML-RPC or the control API, calls the
 * model's `dispatch`, and writes the answer exactly as XAPI would (xapi-clients.md
 * docs/simulator-behaviour.md#power-states).
 *
 * Routing (longest-prefix, as XAPI's http_svr does):
 * - `POST /jsonrpc…` → JSON-RPC v1/v2;
 * - `POST` on any other path (`/`, `/RPC2`, `/xmlrpc`, `/json`, …) → XML-RPC;
 * - `OPTIONS` anywhere → the CORS preflight answer of `Http_svr.respond_to_options`;
 * - `GET|POST /_sim/<op>` → a control operation, loopback peers only;
 * - anything else → 403, like XAPI's default handler.
 *
 * Nothing a client sends can kill the process: malformed bodies get HTTP 500 text/html, oversized ones 413,
 * unexpected model exceptions become `INTERNAL_ERROR [message]`, and socket errors are swallowed.
 */

import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { type CallMeta, type Dispatch, DropConnection, XapiFault, type XValue } from "./api";
import {
  decodeJsonRpcRequest,
  encodeJsonRpcFailure,
  encodeJsonRpcSuccess,
  JSON_CONTENT_TYPE,
  MalformedJsonRpc,
} from "./wire/jsonrpc";
import {
  decodeXmlRpcCall,
  encodeXmlRpcBare,
  encodeXmlRpcFailure,
  encodeXmlRpcSuccess,
  MalformedXmlRpc,
  XML_CONTENT_TYPE,
} from "./wire/xmlrpc";

/** A control operation as the model exposes it (see simulator/README.md for the list). */
export type ControlOperation = (body: Record<string, unknown>) => unknown;

/** Options for one listener (the master or the pool member). */
export interface SimServerOptions {
  /** Runs one XAPI call. */
  readonly dispatch: Dispatch;
  /** Control operations, served at `GET|POST /_sim/<name>`. */
  readonly control: Readonly<Record<string, ControlOperation>>;
  /** Which simulated host this listener is; passed to `dispatch` as `meta.host`. */
  readonly host: CallMeta["host"];
  /** Largest accepted request body; larger ones get HTTP 413. */
  readonly maxBodyBytes: number;
  /** PEM certificate and key: serve HTTPS instead of HTTP. */
  readonly tls?: { readonly cert: string; readonly key: string } | undefined;
}

/** One listening HTTP(S) server with connection tracking so that `close()` never hangs on keep-alive. */
export interface SimServer {
  readonly server: http.Server;
  /** Bind and resolve with the bound port. */
  listen(port: number, address: string): Promise<number>;
  /** Stop accepting, give in-flight calls `graceMs` to finish, then destroy every connection. */
  close(graceMs?: number): Promise<void>;
}

/** The HTML body XAPI's `Http_svr.response_internal_error` sends for a request it cannot parse. */
export function internalErrorHtml(extra: string): string {
  return (
    "<html><body><h1>HTTP 500 internal server error</h1>An unexpected error occurred; please wait a while and " +
    "try again. If the problem persists, please contact your support representative." +
    `<h1> Additional information </h1>${escapeHtml(extra)}</body></html>`
  );
}

const FORBIDDEN_HTML =
  "<html><body><h1>HTTP 403 forbidden</h1>Access to the requested resource is forbidden.</body></html>";
const TOO_LARGE_HTML =
  "<html><body><h1>HTTP 413 request entity too large</h1>The request body exceeds the limit.</body></html>";

// Sent with every RPC answer by api_server.ml.
const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "X-Requested-With",
} as const;

const CONTROL_PREFIX = "/_sim/";

/** Create (but do not bind) one simulator listener. */
export function createSimServer(options: SimServerOptions): SimServer {
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();
  const handler: http.RequestListener = (req, res) => {
    const done = handleRequest(options, req, res).catch((error: unknown) => {
      // Last resort: a bug in the handler must not take the process down.
      process.stderr.write(`xapi-sim: request handler failed: ${String(error)}\n`);
      if (!res.headersSent) sendHtml(res, 500, internalErrorHtml(String(error)));
      else res.destroy();
    });
    inFlight.add(done);
    void done.finally(() => inFlight.delete(done));
  };
  const server: http.Server =
    options.tls === undefined
      ? http.createServer({ keepAlive: true }, handler)
      : https.createServer({ cert: options.tls.cert, key: options.tls.key, keepAlive: true }, handler);

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  });
  // Garbage that is not even HTTP: answer 400 if we still can, never throw.
  server.on("clientError", (_error: Error, socket: Socket) => {
    if (socket.writable)
      socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
    else socket.destroy();
  });
  // Failed TLS handshakes (e.g. a client that rejects the self-signed cert) are the client's business.
  server.on("tlsClientError", (_error: Error, socket: Socket) => socket.destroy());

  return {
    server,
    listen(port, address) {
      return new Promise<number>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once("error", onError);
        server.listen(port, address, () => {
          server.off("error", onError);
          const bound = server.address();
          resolve(typeof bound === "object" && bound !== null ? bound.port : port);
        });
      });
    },
    async close(graceMs = 1000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight.size > 0) {
        await Promise.race([Promise.allSettled([...inFlight]), delay(graceMs)]);
      }
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

async function handleRequest(
  options: SimServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://sim.invalid");
  const method = req.method ?? "GET";
  if (method === "OPTIONS") return sendOptions(req, res);
  if (url.pathname.startsWith(CONTROL_PREFIX) && (method === "GET" || method === "POST")) {
    return handleControl(options, req, res, url);
  }
  if (method !== "POST") return sendHtml(res, 403, FORBIDDEN_HTML);

  const body = await readBody(req, options.maxBodyBytes);
  if (body === undefined) {
    res.setHeader("Connection", "close");
    return sendHtml(res, 413, TOO_LARGE_HTML);
  }
  // XAPI's radix tree routes by longest prefix: `/jsonrpc` and anything under it is JSON-RPC.
  if (url.pathname.startsWith("/jsonrpc")) return handleJsonRpc(options, req, res, body);
  return handleXmlRpc(options, req, res, body);
}

async function handleJsonRpc(
  options: SimServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: string,
): Promise<void> {
  let request: ReturnType<typeof decodeJsonRpcRequest>;
  try {
    request = decodeJsonRpcRequest(body);
  } catch (error) {
    if (error instanceof MalformedJsonRpc) return sendHtml(res, 500, internalErrorHtml(error.message));
    throw error;
  }
  const outcome = await runCall(options, request.method, request.params, "jsonrpc");
  if (outcome.kind === "drop") return dropConnection(req);
  const text =
    outcome.kind === "ok"
      ? encodeOrInternalError(
          () => encodeJsonRpcSuccess(request, outcome.value),
          (code, params) => encodeJsonRpcFailure(request, code, params),
        )
      : encodeJsonRpcFailure(request, outcome.code, outcome.params);
  sendRpc(res, JSON_CONTENT_TYPE, text);
}

async function handleXmlRpc(
  options: SimServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: string,
): Promise<void> {
  let call: ReturnType<typeof decodeXmlRpcCall>;
  try {
    call = decodeXmlRpcCall(body);
  } catch (error) {
    if (error instanceof MalformedXmlRpc) return sendHtml(res, 500, internalErrorHtml(error.message));
    throw error;
  }
  const outcome = await runCall(options, call.method, call.params, "xmlrpc");
  if (outcome.kind === "drop") return dropConnection(req);
  // system.listMethods is answered bare, without the Status/Value struct (api_server.ml `callback`).
  const bare = call.method === "system.listMethods";
  const text =
    outcome.kind === "ok"
      ? encodeOrInternalError(
          () => (bare ? encodeXmlRpcBare(outcome.value) : encodeXmlRpcSuccess(outcome.value)),
          encodeXmlRpcFailure,
        )
      : bare
        ? encodeXmlRpcBare([outcome.code, ...outcome.params])
        : encodeXmlRpcFailure(outcome.code, outcome.params);
  sendRpc(res, XML_CONTENT_TYPE, text);
}

type CallOutcome =
  | { readonly kind: "ok"; readonly value: XValue }
  | { readonly kind: "fault"; readonly code: string; readonly params: readonly string[] }
  | { readonly kind: "drop" };

async function runCall(
  options: SimServerOptions,
  method: string,
  params: readonly unknown[],
  transport: CallMeta["transport"],
): Promise<CallOutcome> {
  try {
    const value = await options.dispatch(method, params, { host: options.host, transport });
    return { kind: "ok", value };
  } catch (error) {
    if (error instanceof XapiFault) return { kind: "fault", code: error.code, params: error.params };
    if (error instanceof DropConnection) return { kind: "drop" };
    // XAPI turns unexpected exceptions into INTERNAL_ERROR [text]; so do we, and say so on stderr.
    process.stderr.write(`xapi-sim: ${method} threw ${describeError(error)}\n`);
    return { kind: "fault", code: "INTERNAL_ERROR", params: [describeError(error)] };
  }
}

// A value the model returned that cannot go on the wire is a model bug: report it as XAPI would.
function encodeOrInternalError(
  encode: () => string,
  encodeFailure: (code: string, params: readonly string[]) => string,
): string {
  try {
    return encode();
  } catch (error) {
    process.stderr.write(`xapi-sim: cannot encode result: ${describeError(error)}\n`);
    return encodeFailure("INTERNAL_ERROR", [describeError(error)]);
  }
}

function dropConnection(req: http.IncomingMessage): void {
  req.socket.destroy();
}

async function handleControl(
  options: SimServerOptions,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
): Promise<void> {
  if (!isLoopback(req.socket.remoteAddress)) {
    return sendJson(res, 403, { error: "control operations are served to loopback clients only" });
  }
  const name = decodeURIComponent(url.pathname.slice(CONTROL_PREFIX.length));
  const operation = Object.hasOwn(options.control, name) ? options.control[name] : undefined;
  if (operation === undefined) {
    const known = Object.keys(options.control).sort().join(", ");
    return sendJson(res, 404, { error: `unknown control operation "${name}"; known: ${known}` });
  }
  const raw = await readBody(req, options.maxBodyBytes);
  if (raw === undefined) return sendJson(res, 413, { error: "request body too large" });
  let body: Record<string, unknown>;
  try {
    body = raw.trim() === "" ? queryToBody(url.searchParams) : parseJsonObject(raw);
  } catch (error) {
    return sendJson(res, 400, { error: `invalid control body: ${describeError(error)}` });
  }
  try {
    const result = await operation(body);
    sendJson(res, 200, { result: result === undefined ? null : result });
  } catch (error) {
    sendJson(res, 400, { error: describeError(error) });
  }
}

// Query-string values that read as JSON (numbers, booleans, objects) are parsed; the rest stay strings.
function queryToBody(query: URLSearchParams): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [key, value] of query) {
    let parsed: unknown = value;
    try {
      parsed = JSON.parse(value);
    } catch {
      // not JSON: a plain string such as a uuid
    }
    Object.defineProperty(body, key, { value: parsed, enumerable: true });
  }
  return body;
}

function parseJsonObject(raw: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(raw);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new TypeError("expected a JSON object");
  }
  return parsed as Record<string, unknown>;
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
  return v4.startsWith("127.") || address === "::1";
}

// Resolves with the body, or undefined when it exceeds the limit. An oversized body is still drained (and
// discarded) so the client, which is usually still uploading, reads the 413 rather than a reset connection.
function readBody(req: http.IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(undefined));
  });
}

function sendRpc(res: http.ServerResponse, contentType: string, text: string): void {
  res.writeHead(200, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(text),
    ...CORS_HEADERS,
  });
  res.end(text);
}

// Http_svr.respond_to_options: echo the requested headers plus X-Requested-With; methods "PUT" (sic).
function sendOptions(req: http.IncomingMessage, res: http.ServerResponse): void {
  const requested = req.headers["access-control-request-headers"];
  res.writeHead(200, {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers":
      requested === undefined ? "X-Requested-With" : `${requested}, X-Requested-With`,
    "Access-Control-Allow-Methods": "PUT",
    "content-length": 0,
  });
  res.end();
  req.resume();
}

function sendHtml(res: http.ServerResponse, status: number, html: string): void {
  res.writeHead(status, { "content-type": "text/html", "content-length": Buffer.byteLength(html) });
  res.end(html);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value, controlReplacer);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

// The wire markers (XFloat, XDateTime, XInt32) show as their plain value in control answers.
function controlReplacer(_key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && "value" in value) {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return (value as { value: unknown }).value;
  }
  return value;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (char) => HTML_ESCAPES[char] ?? char);
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
