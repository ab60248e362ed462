/**
 * How xapi-sim's XAPI messages are declared: a {@link MethodSpec} per wire name, registered through a
 * {@link Def}, and the helpers that declare a class's implicit messages
 * (docs/simulator-behaviour.md#implicit-messages: get_record,
 * get_all, get_all_records, get_by_uuid, get_by_name_label, get_<field>) and the setters of a map field.
 * Each XAPI class registers its messages in its own file of this folder.
 */
import type { CallMeta, XValue } from "../../api";
import { XapiFault } from "../../api";
import type { Table } from "../db";
import type { Engine, OpContext } from "../engine";
import { str, strMap } from "../params";
import { fieldToWire, type StringMap } from "../records";
import { ErrorCode } from "../vocabulary";

/** What an implementation receives. */
export interface Call {
  /** Parameters after the session (all of them for session-less messages). */
  readonly args: readonly unknown[];
  readonly session: string | undefined;
  readonly meta: CallMeta;
  /** Present for async-capable messages: the task the call runs as. */
  readonly ctx: OpContext | undefined;
  /** The method name as sent (for task labels and errors). */
  readonly wireName: string;
}

export interface MethodSpec {
  readonly name: string;
  /** Parameter names after `session_id`. */
  readonly params: readonly string[];
  /** How many trailing parameters have defaults (optional on the wire). */
  readonly defaults: number;
  readonly session: boolean;
  /** Has an `Async.` form (lifecycle calls and other long-running messages). */
  readonly async: boolean;
  readonly impl: (call: Call) => XValue | Promise<XValue>;
}

export interface MethodOptions {
  defaults?: number;
  session?: boolean;
  async?: boolean;
}

/** Registers one message. */
export type Def = (
  name: string,
  params: readonly string[],
  impl: MethodSpec["impl"],
  o?: MethodOptions,
) => void;

/** A {@link Def} that fills `methods`. */
export function definer(methods: Map<string, MethodSpec>): Def {
  return (name, params, impl, o = {}) => {
    methods.set(name, {
      name,
      params,
      defaults: o.defaults ?? 0,
      session: o.session ?? true,
      async: o.async ?? false,
      impl,
    });
  };
}

/** The row of `ref` in `table`, or HANDLE_INVALID [cls, ref] (XAPI's answer for a ref of no object). */
export function rowOf<T>(cls: string, table: Table<T>, ref: string): T {
  const row = table.get(ref);
  if (row === undefined) throw new XapiFault(ErrorCode.handleInvalid, [cls, ref]);
  return row;
}

/**
 * The implicit messages of a class (docs/simulator-behaviour.md#implicit-messages): get_record, get_all,
 * get_all_records, get_by_uuid,
 * get_by_name_label (`byName`), and get_<field> for every field of `sample`. A bad ref is
 * HANDLE_INVALID [cls, ref], an unknown uuid UUID_INVALID [cls, uuid]. Records go out as the profile
 * serves them (`e.wire`).
 */
export function lookups<T extends object>(
  def: Def,
  e: Engine,
  cls: string,
  table: Table<T>,
  sample: T,
  o: { byName?: boolean; all?: boolean; getters?: boolean } = {},
): void {
  def(`${cls}.get_record`, ["self"], ({ args }) => e.wire(cls, rowOf(cls, table, str(args, 0, "self"))));
  if (o.all !== false) {
    def(`${cls}.get_all`, [], () => [...table.rows.keys()]);
    def(`${cls}.get_all_records`, [], () => {
      const out: { [ref: string]: XValue } = {};
      for (const [ref, value] of table.entries()) out[ref] = e.wire(cls, value);
      return out;
    });
  }
  def(`${cls}.get_by_uuid`, ["uuid"], ({ args }) => {
    const uuid = str(args, 0, "uuid");
    const hit = table.entries().find(([, v]) => (v as { uuid?: string }).uuid === uuid);
    if (!hit) throw new XapiFault(ErrorCode.uuidInvalid, [cls, uuid]);
    return hit[0];
  });
  if (o.byName) {
    def(`${cls}.get_by_name_label`, ["label"], ({ args }) => {
      const label = str(args, 0, "label");
      return table
        .entries()
        .filter(([, v]) => (v as { name_label?: string }).name_label === label)
        .map(([ref]) => ref);
    });
  }
  if (o.getters === false) return;
  for (const field of Object.keys(sample)) {
    def(`${cls}.get_${field}`, ["self"], ({ args }) => {
      const row = rowOf(cls, table, str(args, 0, "self")) as Record<string, unknown>;
      return fieldToWire(cls, field, row[field]);
    });
  }
}

/** `set_/add_to_/remove_from_<field>` of a string map field: DB writes (MAP_DUPLICATE_KEY on add). */
export function mapSetters<T extends object>(
  def: Def,
  cls: string,
  table: Table<T>,
  field: keyof T & string,
): void {
  const row = (args: readonly unknown[]): string => {
    const ref = str(args, 0, "self");
    rowOf(cls, table, ref);
    return ref;
  };
  const mapOf = (value: T): StringMap => value[field] as StringMap;
  def(`${cls}.set_${field}`, ["self", "value"], ({ args }) => {
    const ref = row(args);
    const value = strMap(args, 1, "value");
    table.update(ref, (r) => {
      (r as Record<string, unknown>)[field] = value;
    });
    return "";
  });
  def(`${cls}.add_to_${field}`, ["self", "key", "value"], ({ args }) => {
    const ref = row(args);
    const key = str(args, 1, "key");
    const value = str(args, 2, "value");
    const current = table.get(ref);
    if (current !== undefined && Object.hasOwn(mapOf(current), key)) {
      throw new XapiFault(ErrorCode.mapDuplicateKey, [cls, field, ref, key]);
    }
    table.update(ref, (r) => {
      (r as Record<string, unknown>)[field] = { ...mapOf(r), [key]: value };
    });
    return "";
  });
  def(`${cls}.remove_from_${field}`, ["self", "key"], ({ args }) => {
    const ref = row(args);
    const key = str(args, 1, "key");
    table.update(ref, (r) => {
      const { [key]: _, ...rest } = mapOf(r);
      (r as Record<string, unknown>)[field] = rest;
    });
    return "";
  });
}
