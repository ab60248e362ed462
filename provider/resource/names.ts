/** The VM's names: `VM.set_name_label` / `VM.set_name_description` when the declared value differs. */
import type { XapiConnection } from "../client";
import type { VmRecord } from "../executor";
import type { VmInputs } from "../inputs";
import { BIRTH_PREFIX } from "./birth";
import { recorded } from "./call-record";
import type { VmCallRecord } from "./types";
import { stringField } from "./vm-reads";

/** Sets the declared names that differ from the record's (`which` leaves one out). */
export async function setNames(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  value: VmInputs,
  calls: VmCallRecord[],
  which: { label?: boolean; description?: boolean } = {},
): Promise<void> {
  const power = record.power_state;
  // A VM still bearing its birth name gets the template's name when no name is declared (as a clone would).
  const label = value.nameLabel ?? (record.name_label.startsWith(BIRTH_PREFIX) ? value.template : undefined);
  if (which.label !== false && label !== undefined && label !== record.name_label) {
    const v = label;
    await recorded(
      calls,
      { call: "VM.set_name_label", args: { value: v }, from: power, to: power, reason: "the declared name" },
      () => conn.call("VM.set_name_label", ref, v),
    );
  }
  const description = value.nameDescription;
  if (
    which.description !== false &&
    description !== undefined &&
    description !== stringField(record, "name_description")
  ) {
    await recorded(
      calls,
      {
        call: "VM.set_name_description",
        args: { value: description },
        from: power,
        to: power,
        reason: "the declared description",
      },
      () => conn.call("VM.set_name_description", ref, description),
    );
  }
}

/** The VM still bears the name it was born with (`birth.ts`): its create did not finish. */
export function bearsBirthName(record: VmRecord): boolean {
  return record.name_label.startsWith(BIRTH_PREFIX);
}
