/**
 * XAPI class `message` (ocaml/idl/datamodel.ml, module Message; ocaml/xapi/xapi_message.ml): alerts for
 * the administrator. Not a database class in XAPI, so it has no implicit field getters: only create,
 * destroy, get, get_all, get_since, get_record, get_by_uuid, get_all_records and get_all_records_where.
 * The VM lifecycle calls add messages (pool-objects.ts `vmMessage`); events report their adds and dels.
 */
import { XapiFault, type XValue } from "../../api";
import type { Table } from "../db";
import type { Engine } from "../engine";
import { enumValue, num, str } from "../params";
import { addMessage } from "../pool-objects";
import { MessageClass, type MessageRecord } from "../pool-records";
import { ErrorCode } from "../vocabulary";
import { type Def, rowOf } from "./registry";

/** The table holding the objects a message about `cls` may name, when xapi-sim models the class. */
function tableOf(e: Engine, cls: MessageClass): Table<{ uuid: string }> | undefined {
  const tables: Partial<Record<MessageClass, Table<{ uuid: string }>>> = {
    VM: e.vms,
    Host: e.hosts,
    SR: e.srs,
    Pool: e.pools,
    VDI: e.vdis,
  };
  return tables[cls];
}

/** True when an object of `cls` has `uuid` (xapi_message.ml `check_uuid`). */
function objectExists(e: Engine, cls: MessageClass, uuid: string): boolean {
  return (
    tableOf(e, cls)
      ?.values()
      .some((v) => v.uuid === uuid) ?? false
  );
}

/**
 * A XAPI datetime parameter in epoch ms: `YYYYMMDDTHH:MM:SSZ` or ISO 8601 with dashes, optional fraction
 * and zone (UTC when absent, as the datamodel's `since` documents).
 * @throws XapiFault INVALID_VALUE [name, value] for anything else.
 */
export function dateParam(value: string, name: string): number {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value);
  if (!m) throw new XapiFault(ErrorCode.invalidValue, [name, value]);
  const zone = m[8] === undefined || m[8] === "Z" ? "Z" : `${m[8].slice(0, 3)}:${m[8].slice(-2)}`;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[7] ?? ""}${zone}`);
  if (Number.isNaN(ms)) throw new XapiFault(ErrorCode.invalidValue, [name, value]);
  return ms;
}

/** A stored `YYYYMMDDTHH:MM:SSZ` timestamp in epoch ms. */
function timestampMs(record: MessageRecord): number {
  return dateParam(record.timestamp, "timestamp");
}

/** RFC 3339 of a stored timestamp, as `get_all_records_where` compares `timestamp` (Date.to_rfc3339). */
function rfc3339(timestamp: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(.*)$/.exec(timestamp);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}` : timestamp;
}

/** Messages as get_all_records returns them, newest first (xapi_message.ml `get_real_inner` sorts so). */
function recordsOf(e: Engine, keep: (m: MessageRecord) => boolean): { [ref: string]: XValue } {
  const out: { [ref: string]: XValue } = {};
  for (const [ref, m] of e.messages.entries().reverse()) if (keep(m)) out[ref] = e.wire("message", m);
  return out;
}

export function registerMessage(def: Def, e: Engine): void {
  const classes = Object.values(MessageClass);
  def("message.create", ["name", "priority", "cls", "obj_uuid", "body"], ({ args }) => {
    const name = str(args, 0, "name");
    const priority = num(args, 1, "priority");
    const cls = enumValue(args, 2, "cls", classes);
    const objUuid = str(args, 3, "obj_uuid");
    const body = str(args, 4, "body");
    if (!objectExists(e, cls, objUuid)) throw new XapiFault(ErrorCode.uuidInvalid, [cls, objUuid]);
    return addMessage(e, { name, priority, cls, objUuid, body });
  });
  def("message.destroy", ["self"], ({ args }) => {
    const ref = str(args, 0, "self");
    rowOf("message", e.messages, ref);
    e.messages.remove(ref);
    return "";
  });
  def("message.get", ["cls", "obj_uuid", "since"], ({ args }) => {
    const cls = enumValue(args, 0, "cls", classes);
    const objUuid = str(args, 1, "obj_uuid");
    const since = dateParam(str(args, 2, "since"), "since");
    // xapi_message.ml `get` raises UUID_INVALID with no parameters here.
    if (!objectExists(e, cls, objUuid)) throw new XapiFault(ErrorCode.uuidInvalid, []);
    return recordsOf(e, (m) => m.cls === cls && m.obj_uuid === objUuid && timestampMs(m) > since);
  });
  def("message.get_since", ["since"], ({ args }) => {
    const since = dateParam(str(args, 0, "since"), "since");
    return recordsOf(e, (m) => timestampMs(m) > since);
  });
  def("message.get_all", [], () => [...e.messages.rows.keys()]);
  def("message.get_record", ["self"], ({ args }) =>
    e.wire("message", rowOf("message", e.messages, str(args, 0, "self"))),
  );
  def("message.get_by_uuid", ["uuid"], ({ args }) => {
    const uuid = str(args, 0, "uuid");
    const hit = e.messages.entries().find(([, m]) => m.uuid === uuid);
    if (!hit) throw new XapiFault(ErrorCode.uuidInvalid, ["message", uuid]);
    return hit[0];
  });
  def("message.get_all_records", [], () => recordsOf(e, () => true));
  def("message.get_all_records_where", ["expr"], ({ args }) => {
    const expr = parseFilter(str(args, 0, "expr"));
    return recordsOf(e, (m) => evaluate(expr, m));
  });
}

// ------------------------------------------------------------------ the database filter language

/** XAPI's filter expressions (ocaml/database/db_filter_parse.mly). */
type Value = { readonly literal: string } | { readonly field: string };
type Expr =
  | { readonly op: "true" | "false" }
  | { readonly op: "not"; readonly a: Expr }
  | { readonly op: "and" | "or"; readonly a: Expr; readonly b: Expr }
  | { readonly op: "eq"; readonly a: Value; readonly b: Value };

function filterError(expr: string, why: string): XapiFault {
  return new XapiFault(ErrorCode.internalError, [
    `cannot parse the filter expression ${JSON.stringify(expr)}: ${why}; expected e.g. field "name"="VM_STARTED" and not (field "priority"="1")`,
  ]);
}

/** Tokens of db_filter_lex.mll: keywords, `=`, parentheses and double-quoted strings. */
function tokens(expr: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:(=|\(|\))|("[^"]*")|(true|false|field|and|or|not))/y;
  let at = 0;
  while (at < expr.length) {
    if (/^\s*$/.test(expr.slice(at))) break;
    re.lastIndex = at;
    const m = re.exec(expr);
    if (!m) throw filterError(expr, `unexpected text at offset ${at}`);
    out.push(m[1] ?? m[2] ?? m[3] ?? "");
    at = re.lastIndex;
  }
  return out;
}

/** Parses a filter: `and`/`or` left-associative at one precedence, `not` binding tighter. */
export function parseFilter(expr: string): Expr {
  const toks = tokens(expr);
  let i = 0;
  const value = (): Value => {
    const t = toks[i++];
    if (t === "field") {
      const name = toks[i++];
      if (name?.startsWith('"') !== true) throw filterError(expr, "field needs a quoted name");
      return { field: name.slice(1, -1) };
    }
    if (t?.startsWith('"') !== true) throw filterError(expr, `expected a value, found ${t ?? "the end"}`);
    return { literal: t.slice(1, -1) };
  };
  const unary = (): Expr => {
    const t = toks[i];
    if (t === "not") {
      i++;
      return { op: "not", a: unary() };
    }
    if (t === "true" || t === "false") {
      i++;
      return { op: t };
    }
    if (t === "(") {
      i++;
      const inner = binary();
      if (toks[i++] !== ")") throw filterError(expr, "missing )");
      return inner;
    }
    const a = value();
    if (toks[i++] !== "=") throw filterError(expr, "expected =");
    return { op: "eq", a, b: value() };
  };
  const binary = (): Expr => {
    let left = unary();
    while (toks[i] === "and" || toks[i] === "or") {
      const op = toks[i++] as "and" | "or";
      left = { op, a: left, b: unary() };
    }
    return left;
  };
  const result = binary();
  if (i !== toks.length) throw filterError(expr, `unexpected ${toks[i] ?? ""}`);
  return result;
}

/** A value of a message as the filter sees it (xapi_message.ml `get_all_records_where`). */
function lookup(m: MessageRecord, v: Value): string {
  if ("literal" in v) return v.literal;
  switch (v.field) {
    case "priority":
      return String(m.priority);
    case "timestamp":
      return rfc3339(m.timestamp);
    case "name":
    case "uuid":
    case "cls":
    case "obj_uuid":
    case "body":
      return m[v.field];
    default:
      throw new XapiFault(ErrorCode.internalError, [
        `message has no field ${JSON.stringify(v.field)} to filter on; expected name, uuid, priority, cls, obj_uuid, timestamp or body`,
      ]);
  }
}

function evaluate(expr: Expr, m: MessageRecord): boolean {
  switch (expr.op) {
    case "true":
      return true;
    case "false":
      return false;
    case "not":
      return !evaluate(expr.a, m);
    case "and":
      return evaluate(expr.a, m) && evaluate(expr.b, m);
    case "or":
      return evaluate(expr.a, m) || evaluate(expr.b, m);
    case "eq":
      return lookup(m, expr.a) === lookup(m, expr.b);
  }
}
