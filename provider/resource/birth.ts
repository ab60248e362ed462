/**
 * A VM's birth from its template: `VM.clone`, the owner tag, `VM.provision`, `VM.set_is_a_template(false)`
 * (docs/xapi-facts.md, "Templates and provisioning"). Kill-safe: a VM is born with a name unique to its
 * resource ({@link birthName}), tagged with the resource's URN right after, and renamed to its declared
 * name as the create's last call, so a create stopped anywhere before its end is found again
 * (`leftovers.ts`) and finished instead of cloned twice.
 */
import { createHash } from "node:crypto";
import type { XapiConnection } from "../client";
import type { VmRecord } from "../executor";
import type { VmInputs } from "../inputs";
import { PowerState } from "../model/vocabulary";
import { addKey, recorded } from "./call-record";
import { timeoutOpts } from "./deadlines";
import { ProviderError, ProviderErrorCode } from "./errors";
import { OWNER_REASON } from "./ownership";
import type { Bag } from "./property-bag";
import { URN_KEY } from "./snapshot";
import type { Deadline } from "./timeouts";
import type { VmCallRecord } from "./types";
import { recordOf } from "./vm-reads";

/** A VM this resource is bringing into the world: a fresh clone, or one a stopped create left behind. */
export interface Birth {
  readonly ref: string;
  /** Unknown for a fresh clone with a birth name: the record read once it is born says it. */
  readonly uuid: string | undefined;
  /** Still a template (not provisioned and un-templated yet). */
  readonly isTemplate: boolean;
  /** Already carries this resource's URN tag. */
  readonly tagged: boolean;
  /** `VM.provision` is still due: a fresh clone, or a left-behind one whose `other_config.disks` is still set. */
  readonly provisionDue: boolean;
  /** A left-behind VM's record, as the search read it. */
  readonly record?: VmRecord | undefined;
}

/** Nothing is left to write to be born: tagged (or no URN to tag with) and no longer a template. */
export function bornAlready(birth: Birth, urn: string | undefined): boolean {
  return (urn === undefined || birth.tagged) && !birth.isTemplate;
}

/** The prefix of every birth name. */
export const BIRTH_PREFIX = "pulumi-xapi:creating:";

/**
 * The `name_label` a VM is born with: unique to its resource, so that a create stopped before the VM was
 * tagged or recorded finds it again (`VM.get_by_name_label`). Renamed to the declared name once tagged.
 */
export function birthName(urn: string): string {
  return `${BIRTH_PREFIX}${createHash("sha256").update(urn).digest("hex").slice(0, 16)}`;
}

/**
 * Finds the template by name_label and clones it; the clone is a template until provisioned. A clone born
 * with its resource's birth name needs no uuid yet (`create.ts` learns it from the record it reads once the
 * VM is born; a create stopped before that finds the clone again by that name); one without (no URN known)
 * has its uuid read at once, or is destroyed: it could be neither recorded nor found again.
 */
export async function cloneTemplate(
  conn: XapiConnection,
  value: VmInputs,
  urn: string | undefined,
  calls: VmCallRecord[],
  deadline: Deadline,
): Promise<Birth> {
  const name = value.template ?? "";
  const template = await findTemplate(conn, name);
  deadline.check("VM.clone");
  // Born with a name unique to the resource (when its URN is known), so a stopped create finds it again.
  const newName = urn === undefined ? (value.nameLabel ?? name) : birthName(urn);
  const ref = await recorded(
    calls,
    {
      call: "VM.clone",
      args: { template: name, new_name: newName },
      to: "Halted",
      reason: "copy the template",
    },
    () => conn.callAsync<string>("VM.clone", [template.ref, newName], timeoutOpts(deadline, value)),
  );
  const born = { ref, isTemplate: true, tagged: false, provisionDue: true };
  if (urn !== undefined) return { ...born, uuid: undefined };
  try {
    return { ...born, uuid: await conn.call<string>("VM.get_uuid", ref) };
  } catch (error) {
    // Without its uuid the VM cannot be recorded: undo the clone to stay transactional.
    await conn.call("VM.destroy", ref).catch(() => undefined);
    throw error;
  }
}

/** The templates found by this process, per connection and name: each is looked up once per run. */
const foundTemplates = new WeakMap<XapiConnection, Map<string, Promise<{ ref: string; uuid: string }>>>();

/**
 * The one template named `name`, looked up once per connection in this process (one `pulumi` command):
 * a fleet cloned from one template costs one lookup, not one per VM. A failed lookup is not kept.
 * @throws ProviderError TEMPLATE_NOT_FOUND, TEMPLATE_AMBIGUOUS
 */
function findTemplate(conn: XapiConnection, name: string): Promise<{ ref: string; uuid: string }> {
  let known = foundTemplates.get(conn);
  if (known === undefined) {
    known = new Map();
    foundTemplates.set(conn, known);
  }
  const cache = known;
  let found = cache.get(name);
  if (found === undefined) {
    found = lookUpTemplate(conn, name);
    cache.set(name, found);
    found.catch(() => cache.delete(name));
  }
  return found;
}

/** `VM.get_by_name_label`, then one `VM.get_record` per VM of that name. */
async function lookUpTemplate(conn: XapiConnection, name: string): Promise<{ ref: string; uuid: string }> {
  const refs = await conn.call<string[]>("VM.get_by_name_label", name);
  const templates: { ref: string; uuid: string }[] = [];
  for (const ref of refs) {
    const record = await conn.call<VmRecord>("VM.get_record", ref);
    if (record.is_a_template === true && record.is_a_snapshot !== true)
      templates.push({ ref, uuid: record.uuid });
  }
  const [template, ...others] = templates;
  if (template === undefined) {
    throw new ProviderError(
      ProviderErrorCode.TEMPLATE_NOT_FOUND,
      `Template ${JSON.stringify(name)} not found: expected a VM template with this name_label, found none. ` +
        "List them with `xe template-list params=name-label`.",
    );
  }
  if (others.length > 0) {
    throw new ProviderError(
      ProviderErrorCode.TEMPLATE_AMBIGUOUS,
      `Template ${JSON.stringify(name)} is ambiguous: expected one template with this name_label, found ` +
        `${templates.length} (${templates.map((t) => t.uuid).join(", ")}). Rename the copies or give the VM by uuid.`,
    );
  }
  return template;
}

/** Tags, provisions and un-templates a VM being born, as far as it is not done yet. */
export async function finishBirth(
  conn: XapiConnection,
  birth: Birth,
  urn: string | undefined,
  calls: VmCallRecord[],
  deadline: Deadline,
  value: VmInputs,
): Promise<void> {
  if (urn !== undefined && !birth.tagged) {
    await addKey(conn, calls, birth.ref, PowerState.Halted, URN_KEY, urn, OWNER_REASON);
  }
  if (!birth.isTemplate) return;
  const reason = {
    provision: "create the disks the template describes",
    untemplate: "turn the copy into a VM",
  };
  await provisionAndUntemplate(conn, birth.ref, birth.provisionDue, calls, deadline, value, reason);
}

/**
 * Finishes a create that stopped between `VM.clone` and `VM.set_is_a_template(false)` (e.g. a failed
 * `VM.provision`): the VM is still a template, which XAPI refuses to start (`VM_IS_TEMPLATE`).
 * Provisions it while its `other_config.disks` still lists disks to create (provision consumes the key),
 * un-templates it, and returns the record read afterwards (the disks and flags changed).
 */
export async function finishClone(
  conn: XapiConnection,
  ref: string,
  record: VmRecord,
  calls: VmCallRecord[],
  deadline: Deadline,
  value: VmInputs,
): Promise<VmRecord> {
  const reason = "finish the create: the VM is still the template clone an earlier create left";
  const reasons = { provision: reason, untemplate: reason };
  await provisionAndUntemplate(conn, ref, pendingDisks(record), calls, deadline, value, reasons);
  return recordOf(conn, ref);
}

/** `VM.provision` (when due), then `VM.set_is_a_template(false)`. */
async function provisionAndUntemplate(
  conn: XapiConnection,
  ref: string,
  provisionDue: boolean,
  calls: VmCallRecord[],
  deadline: Deadline,
  value: VmInputs,
  reason: { provision: string; untemplate: string },
): Promise<void> {
  if (provisionDue) {
    deadline.check("VM.provision");
    await recorded(
      calls,
      { call: "VM.provision", from: "Halted", to: "Halted", reason: reason.provision },
      () => conn.callAsync("VM.provision", [ref], timeoutOpts(deadline, value)),
    );
  }
  await recorded(
    calls,
    {
      call: "VM.set_is_a_template",
      args: { value: false },
      from: "Halted",
      to: "Halted",
      reason: reason.untemplate,
    },
    () => conn.call("VM.set_is_a_template", ref, false),
  );
}

/** The template's `other_config.disks` (the disks `VM.provision` creates) is still there. */
export function pendingDisks(record: VmRecord): boolean {
  const other = record.other_config;
  if (typeof other !== "object" || other === null) return false;
  const disks = (other as Record<string, unknown>).disks;
  return typeof disks === "string" && disks.trim() !== "";
}

/** The recorded resource created its VM by cloning `template` (it did not adopt one). */
export function createdFromTemplate(olds: Bag): boolean {
  return olds.adopted !== true && typeof olds.template === "string";
}
