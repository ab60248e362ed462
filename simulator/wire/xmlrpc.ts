/**
 * XML-RPC as XAPI speaks it on `POST /`, `/RPC2` and every other non-JSON path (xapi-clients.md
 * docs/simulator-behaviour.md#power-states,
 * docs/simulator-behaviour.md#wire-and-dispatch; source: mirage/ocaml-rpc `src/lib/xmlrpc.ml`, non-strict
 * mode).
 *
 * Requests are parsed tolerantly with fast-xml-parser (whitespace between tags, `<string>` or untagged
 * strings, `<int>`/`<i4>`/`<i8>`, …). Responses are written byte-for-byte in XAPI's compact style, because
 * xen-api's sax-based parser breaks on whitespace between tags and Go clients reject tagged int64s.
 */

import { XMLParser, XMLValidator } from "fast-xml-parser";
import { XDateTime, XFloat, XInt32, type XValue } from "../api";

/** XAPI's XML-RPC response content type (xen-api accepts `text/xml` or `application/xml` only). */
export const XML_CONTENT_TYPE = "text/xml";

/**
 * A decoded `<methodCall>`. Params are plain JS values: strings, numbers, booleans, null, arrays, objects.
 */
export interface XmlRpcCall {
  readonly method: string;
  readonly params: readonly unknown[];
}

/** The body is not an XML-RPC call XAPI would accept: the server answers HTTP 500 with an HTML body. */
export class MalformedXmlRpc extends Error {
  override readonly name = "MalformedXmlRpc";
}

const parser = new XMLParser({
  preserveOrder: true, // member and param order matters; keeps mixed text/element children apart
  trimValues: false, // untagged `<value>  x  </value>` is the string "  x  " in XAPI
  parseTagValue: false,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  htmlEntities: true, // numeric character references (&#65; &#x41;) as well as the five XML entities
});

/** One node of fast-xml-parser's `preserveOrder` tree: `{ tag: children }` or `{ "#text": text }`. */
type XmlNode = Record<string, unknown>;
interface XmlElement {
  readonly tag: string;
  readonly children: readonly XmlNode[];
}

const TEXT = "#text";

/**
 * Decode a `<methodCall>` body.
 *
 * @throws MalformedXmlRpc when the body is not well-formed XML or not a methodCall XAPI could parse.
 */
export function decodeXmlRpcCall(body: string): XmlRpcCall {
  const validation = XMLValidator.validate(body);
  if (validation !== true) {
    const { msg, line, col } = validation.err;
    throw new MalformedXmlRpc(`Invalid XML at line ${line}, column ${col ?? "?"}: ${msg}`);
  }
  let tree: XmlNode[];
  try {
    tree = parser.parse(body) as XmlNode[];
  } catch (error) {
    throw new MalformedXmlRpc(`Invalid XML: ${(error as Error).message}`);
  }
  const call = onlyElement(tree, "document");
  if (call.tag !== "methodCall") throw new MalformedXmlRpc(`Expected <methodCall>, got <${call.tag}>`);
  const parts = elementsOf(call.children, "methodCall");
  const nameElement = parts[0];
  if (nameElement?.tag !== "methodName")
    throw new MalformedXmlRpc("Expected <methodName> first in <methodCall>");
  const method = textOf(nameElement);
  const paramsElement = parts[1];
  if (parts.length > 2 || (paramsElement !== undefined && paramsElement.tag !== "params")) {
    throw new MalformedXmlRpc("Expected only <methodName> and <params> in <methodCall>");
  }
  const params = paramsElement === undefined ? [] : decodeParams(paramsElement);
  return { method, params };
}

// `<params>` holds `<param><value>…</value></param>`; clients differ only in whitespace and `<params />`.
function decodeParams(params: XmlElement): unknown[] {
  return elementsOf(params.children, "params").map((param) => {
    if (param.tag !== "param") throw new MalformedXmlRpc(`Expected <param>, got <${param.tag}>`);
    return decodeValueElement(onlyElement(param.children, "param"));
  });
}

/** Decode one `<value>` element as ocaml-rpc's `Parser.value` does. */
function decodeValueElement(value: XmlElement): unknown {
  if (value.tag !== "value") throw new MalformedXmlRpc(`Expected <value>, got <${value.tag}>`);
  const elements = elementsOf(value.children, "value", true);
  // Untagged text (or nothing) is a string, whitespace kept: that is how XAPI itself sends strings and
  // int64s.
  if (elements.length === 0) return textOf(value);
  const typed = elements[0];
  if (elements.length > 1 || typed === undefined || textOf(value).trim() !== "") {
    throw new MalformedXmlRpc("A <value> holds either text or exactly one typed element");
  }
  return decodeTyped(typed);
}

function decodeTyped(element: XmlElement): unknown {
  switch (element.tag) {
    case "string":
      return leafText(element);
    case "int":
    case "i4":
    case "i8":
      return decodeInt(leafText(element));
    case "boolean":
      return decodeBoolean(leafText(element));
    case "double":
      return decodeDouble(leafText(element));
    case "dateTime.iso8601":
      // Params carry datetimes as their wire string, the same as JSON-RPC does.
      return leafText(element);
    case "base64":
      return Buffer.from(leafText(element), "base64").toString("utf8");
    case "nil":
      return null;
    case "array":
      return decodeArray(element);
    case "struct":
      return decodeStruct(element);
    default:
      throw new MalformedXmlRpc(`Unknown value type <${element.tag}>`);
  }
}

// ocaml-rpc reads int/i4/i8 with Int64.of_string; outside JS's exact range the digits stay a string
// (XAPI's int64_of_rpc accepts decimal strings too).
function decodeInt(text: string): number | string {
  const trimmed = text.trim();
  if (!/^[+-]?\d+$/.test(trimmed)) throw new MalformedXmlRpc(`Invalid integer "${text}"`);
  const parsed = Number(trimmed);
  return Number.isSafeInteger(parsed) ? parsed : BigInt(trimmed).toString();
}

// XAPI's make_bool: "1" is true and any other non-empty text is false.
function decodeBoolean(text: string): boolean {
  if (text.trim() === "") throw new MalformedXmlRpc("Empty <boolean>");
  return text.trim() === "1";
}

// float_of_string accepts the usual decimal forms plus nan and inf.
function decodeDouble(text: string): number {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === "nan") return Number.NaN;
  if (trimmed === "inf" || trimmed === "+inf" || trimmed === "infinity") return Number.POSITIVE_INFINITY;
  if (trimmed === "-inf" || trimmed === "-infinity") return Number.NEGATIVE_INFINITY;
  const parsed = Number(trimmed);
  if (trimmed === "" || Number.isNaN(parsed)) throw new MalformedXmlRpc(`Invalid double "${text}"`);
  return parsed;
}

// `<array/>` and `<array><data/></array>` are both the empty array.
function decodeArray(array: XmlElement): unknown[] {
  const parts = elementsOf(array.children, "array");
  if (parts.length === 0) return [];
  const data = parts[0];
  if (parts.length > 1 || data?.tag !== "data") throw new MalformedXmlRpc("Expected one <data> in <array>");
  return elementsOf(data.children, "data").map(decodeValueElement);
}

function decodeStruct(struct: XmlElement): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const member of elementsOf(struct.children, "struct")) {
    if (member.tag !== "member") throw new MalformedXmlRpc(`Expected <member>, got <${member.tag}>`);
    const [name, value, ...rest] = elementsOf(member.children, "member");
    if (name?.tag !== "name" || value === undefined || rest.length > 0) {
      throw new MalformedXmlRpc("Expected <name> then <value> in <member>");
    }
    Object.defineProperty(result, textOf(name), { value: decodeValueElement(value), enumerable: true });
  }
  return result;
}

// Child elements of a node; stray non-whitespace text is an error unless the caller handles text itself.
function elementsOf(children: readonly XmlNode[], where: string, textAllowed = false): XmlElement[] {
  const elements: XmlElement[] = [];
  for (const node of children) {
    const [tag, content] = Object.entries(node)[0] ?? [];
    if (tag === undefined) continue;
    if (tag === TEXT) {
      if (!textAllowed && String(content).trim() !== "") {
        throw new MalformedXmlRpc(`Unexpected text in <${where}>`);
      }
      continue;
    }
    elements.push({ tag, children: Array.isArray(content) ? (content as XmlNode[]) : [] });
  }
  return elements;
}

function onlyElement(children: readonly XmlNode[], where: string): XmlElement {
  const elements = elementsOf(children, where);
  const first = elements[0];
  if (elements.length !== 1 || first === undefined) {
    throw new MalformedXmlRpc(`Expected exactly one element in <${where}>, found ${elements.length}`);
  }
  return first;
}

// All text children concatenated (CDATA and entity splits produce several text nodes).
function textOf(element: XmlElement): string {
  return element.children.map((node) => (TEXT in node ? String(node[TEXT]) : "")).join("");
}

function leafText(element: XmlElement): string {
  if (elementsOf(element.children, element.tag, true).length > 0) {
    throw new MalformedXmlRpc(`<${element.tag}> cannot contain elements`);
  }
  return textOf(element);
}

const RESPONSE_HEAD = '<?xml version="1.0"?><methodResponse><params><param>';
const RESPONSE_TAIL = "</param></params></methodResponse>";

/** A successful call: struct `{Status: "Success", Value: v}` (XAPI never uses `<fault>` for API errors). */
export function encodeXmlRpcSuccess(value: XValue): string {
  return envelope(
    `<value><struct>${member("Status", "<value>Success</value>")}${member("Value", encodeXmlRpcValue(value))}</struct></value>`,
  );
}

/** A XAPI failure: struct `{Status: "Failure", ErrorDescription: [code, ...params]}`. */
export function encodeXmlRpcFailure(code: string, params: readonly string[]): string {
  const description = encodeXmlRpcValue([code, ...params]);
  return envelope(
    `<value><struct>${member("Status", "<value>Failure</value>")}${member("ErrorDescription", description)}</struct></value>`,
  );
}

/**
 * `system.listMethods` is answered with the bare value, not the Status/Value struct (api_server.ml
 * `callback`).
 */
export function encodeXmlRpcBare(value: XValue): string {
  return envelope(encodeXmlRpcValue(value));
}

function envelope(value: string): string {
  return `${RESPONSE_HEAD}${value}${RESPONSE_TAIL}`;
}

function member(name: string, encodedValue: string): string {
  return `<member><name>${escapeXmlText(name)}</name>${encodedValue}</member>`;
}

/**
 * One value in XAPI's compact encoding, no whitespace between tags. Also used for `task.result`,
 * which XAPI stores as `Xmlrpc.to_string` of the call's result (e.g. `<value></value>` for void).
 */
export function encodeXmlRpcValue(value: XValue): string {
  if (value === null) return "<value><nil/></value>";
  if (typeof value === "string") return `<value>${escapeXmlText(value)}</value>`;
  if (typeof value === "boolean") return `<value><boolean>${value ? "1" : "0"}</boolean></value>`;
  if (typeof value === "number") return encodeInt64(value);
  if (value instanceof XInt32) return `<value><i4>${Math.trunc(value.value)}</i4></value>`;
  if (value instanceof XFloat) return `<value><double>${formatDouble(value.value)}</double></value>`;
  if (value instanceof XDateTime) {
    return `<value><dateTime.iso8601>${escapeXmlText(value.value)}</dateTime.iso8601></value>`;
  }
  if (Array.isArray(value)) {
    return `<value><array><data>${value.map((item: XValue) => encodeXmlRpcValue(item)).join("")}</data></array></value>`;
  }
  if (isPlainObject(value)) {
    let members = "";
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      members += member(key, encodeXmlRpcValue(item as XValue));
    }
    return `<value><struct>${members}</struct></value>`;
  }
  throw new TypeError(`Cannot encode ${typeof value} as a XAPI value`);
}

// API int64s go untagged, so clients read them as strings: Go's terra-farm client rejects `<int>` for ints.
function encodeInt64(value: number): string {
  if (!Number.isInteger(value)) return `<value><double>${formatDouble(value)}</double></value>`;
  return `<value>${BigInt(value).toString()}</value>`;
}

/**
 * C's `%.16g`, which ocaml-rpc uses for `<double>`: 16 significant digits, trailing zeros dropped,
 * exponent form when the exponent is < -4 or >= 16.
 */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const [mantissa = "", exponentText = "0"] = value.toExponential(15).split("e");
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? "-" : "+";
    return `${stripFractionZeros(mantissa)}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  return stripFractionZeros(value.toFixed(15 - exponent));
}

function stripFractionZeros(text: string): string {
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

/**
 * Escape text the way ocaml-rpc's `encode` does: `& < > "` become entities and control characters
 * other than tab, LF and CR are dropped (they cannot appear in XML 1.0). XAPI writes struct member
 * names unescaped; we escape them too so that a map key such as `a&b` cannot produce broken XML.
 */
function escapeXmlText(text: string): string {
  let out = "";
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) continue;
    out += XML_ESCAPES[char] ?? char;
  }
  return out;
}

const XML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
