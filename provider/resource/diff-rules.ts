/**
 * The rules `diff` decides by, on flat property bags (`stored.ts` unpacks them): which identity change
 * replaces the VM, which declared properties changed (defaults applied, Pulumi's unknowns never equal),
 * and, when the pool cannot be read, whether the recorded observation differs from the declaration.
 */
import { UNKNOWN_SENTINEL } from "../inputs";
import type { XapiBootFields } from "../model/boot";
import { diskNumberOf } from "../model/device-number";
import type { Policy } from "../model/plan";
import { DEFAULT_POLICY } from "../model/plan";
import { sameValue } from "../model/same-value";
import { PowerState } from "../model/vocabulary";
import { assumedBootFields, declaredBootFields, matches } from "./boot";
import { type Bag, bootDeclarationOf, DECLARED_KEYS, stringArray, stripUndefined } from "./property-bag";
import type { EffectiveBoot } from "./types";

/** `powerState` when none is declared. */
const DEFAULT_POWER_STATE = PowerState.Running;

/**
 * Replacement keys: the identity changed (or is unknown in a preview). A VM this resource created and
 * now declares by its own uuid is the same VM: an update that adopts it, never a replacement (which
 * would adopt it, then delete the old resource, destroying the VM just adopted).
 */
export function identityReplaces(olds: Bag, news: Bag): string[] {
  const wasAdopted = olds.adopted === true;
  if (news.uuid !== undefined) return news.uuid !== olds.uuid ? ["uuid"] : [];
  if (news.template !== undefined) return wasAdopted || news.template !== olds.template ? ["template"] : [];
  return [];
}

/** A created VM now declared by its own uuid, or an adopted one no longer: the resource adopts or stops adopting it. */
export function adoptionChanges(olds: Bag, news: Bag): boolean {
  return (news.uuid !== undefined) !== (olds.adopted === true);
}

/** The declared properties besides the identity that differ, defaults applied to both sides. */
export function changedProperties(before: Bag, after: Bag): string[] {
  return DECLARED_KEYS.filter((k) => k !== "template" && k !== "uuid").filter(
    (k) => !sameDeclaredValue(before[k], after[k]),
  );
}

/** The declared properties that have a default, with it applied (a stored bag holds only what was declared). */
export function withDefaults(bag: Bag): Bag {
  const policy = bag.policy;
  return {
    ...bag,
    powerState: bag.powerState ?? DEFAULT_POWER_STATE,
    policy:
      policy === undefined
        ? { ...DEFAULT_POLICY }
        : typeof policy === "object" && policy !== null
          ? { ...DEFAULT_POLICY, ...(stripUndefined(policy) as object) }
          : policy,
  };
}

/** The recorded observation differs from the new declaration (the pool unreadable: refresh drift, failed operation). */
export function recordedDrift(olds: Bag, news: Bag): boolean {
  if (typeof news.powerState === "string" && typeof olds.observedPowerState === "string") {
    if (news.powerState !== olds.observedPowerState) return true;
  }
  const effective = olds.effectiveBoot as EffectiveBoot | undefined;
  if (bootDrift(news, effective) || disksDrift(news.bootableDisks, effective?.bootableDisks)) return true;
  // A pending next-boot change becomes due when the policy now says restart.
  const policy = news.policy as Partial<Policy> | undefined;
  const pending = stringArray(olds.pendingBootChanges);
  return pending.length > 0 && (policy?.bootChanges ?? DEFAULT_POLICY.bootChanges) === "restart";
}

/** The declared boot fields are known and differ from the recorded effective boot. */
function bootDrift(news: Bag, effective: EffectiveBoot | undefined): boolean {
  const declared = declaredBootFields(bootDeclarationOf(news));
  if (declared === undefined || containsUnknown(declared) || effective === undefined) return false;
  return !matches(declared, fieldsOfEffective(effective));
}

/** The declared bootable disks are known and are not the recorded ones (as disk numbers, in any order). */
function disksDrift(declared: unknown, observed: unknown): boolean {
  if (!Array.isArray(declared) || containsUnknown(declared) || !Array.isArray(observed)) return false;
  const sorted = (a: readonly unknown[]) =>
    JSON.stringify([...a].map((d) => diskNumberOf(String(d)) ?? String(d)).sort());
  return sorted(declared) !== sorted(observed);
}

function fieldsOfEffective(effective: EffectiveBoot): XapiBootFields {
  const fields = assumedBootFields(
    effective.pv !== undefined ? { pv: effective.pv } : { hvm: effective.hvm },
  );
  return { ...fields, domain_type: effective.domainType as XapiBootFields["domain_type"] };
}

/** {@link sameValue}, except that a value holding Pulumi's unknown sentinel never equals anything. */
function sameDeclaredValue(a: unknown, b: unknown): boolean {
  return !containsUnknown(a) && !containsUnknown(b) && sameValue(a, b);
}

function containsUnknown(value: unknown): boolean {
  if (value === UNKNOWN_SENTINEL) return true;
  if (typeof value === "object" && value !== null) return Object.values(value).some(containsUnknown);
  return false;
}
