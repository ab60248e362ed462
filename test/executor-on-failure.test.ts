/**
 * The executor's failure decision table (`provider/executor/on-failure.ts`), row by row. Expected
 * decisions are written by hand from the table in the module comment.
 */
import { describe, expect, it } from "vitest";
import { XapiError, XapiTimeoutError, XapiTransportError } from "../provider/client/errors";
import { type FailurePolicy, onFailure } from "../provider/executor";

const base = {
  allowDiscardSuspendedState: false,
  bootChanges: "restart",
  retries: 5,
  startedSuspended: false,
} as const;
const CLEAN: FailurePolicy = { ...base, shutdown: "clean" };
const CLEAN_THEN_HARD: FailurePolicy = { ...base, shutdown: "clean-then-hard" };
const HARD: FailurePolicy = { ...base, shutdown: "hard" };

const xapi = (code: string, call = "VM.clean_shutdown") => new XapiError(code, [], call);
const network = () => new XapiTransportError("ECONNRESET", "socket hang up", "VM.start", "https://pool");
const timeout = () => new XapiTimeoutError("VM.clean_shutdown", "OpaqueRef:task", 1000);

type Row = [string, string, unknown, FailurePolicy, number, string];

const ROWS: Row[] = [
  // guest will not comply, clean call
  [
    "VM_LACKS_FEATURE under clean",
    "VM.clean_shutdown",
    xapi("VM_LACKS_FEATURE"),
    CLEAN,
    0,
    "stop-no-escalation",
  ],
  [
    "VM_SHUTDOWN_TIMEOUT under hard (a planned clean call)",
    "VM.clean_reboot",
    xapi("VM_SHUTDOWN_TIMEOUT"),
    HARD,
    0,
    "stop-no-escalation",
  ],
  [
    "VM_LACKS_FEATURE under clean-then-hard",
    "VM.clean_shutdown",
    xapi("VM_LACKS_FEATURE"),
    CLEAN_THEN_HARD,
    0,
    "escalate",
  ],
  [
    "VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT under clean-then-hard",
    "VM.clean_reboot",
    xapi("VM_FAILED_SHUTDOWN_ACKNOWLEDGMENT"),
    CLEAN_THEN_HARD,
    3,
    "escalate",
  ],
  [
    "the operation timeout under clean-then-hard",
    "VM.clean_shutdown",
    timeout(),
    CLEAN_THEN_HARD,
    0,
    "escalate",
  ],
  [
    "escalation of a VM Suspended at the start",
    "VM.clean_shutdown",
    xapi("VM_LACKS_FEATURE"),
    { ...CLEAN_THEN_HARD, startedSuspended: true },
    0,
    "stop-keep-suspended-image",
  ],
  [
    "escalation codes on a call without a hard twin",
    "VM.hard_shutdown",
    xapi("VM_LACKS_FEATURE"),
    CLEAN_THEN_HARD,
    0,
    "stop",
  ],
  // OTHER_OPERATION_IN_PROGRESS
  [
    "OTHER_OPERATION_IN_PROGRESS, retries left",
    "VM.start",
    xapi("OTHER_OPERATION_IN_PROGRESS"),
    CLEAN,
    0,
    "retry",
  ],
  [
    "OTHER_OPERATION_IN_PROGRESS on the last retry",
    "VM.start",
    xapi("OTHER_OPERATION_IN_PROGRESS"),
    CLEAN,
    4,
    "retry",
  ],
  [
    "OTHER_OPERATION_IN_PROGRESS, retries exhausted",
    "VM.start",
    xapi("OTHER_OPERATION_IN_PROGRESS"),
    CLEAN,
    5,
    "stop",
  ],
  [
    "OTHER_OPERATION_IN_PROGRESS on a setter",
    "VM.set_PV_args",
    xapi("OTHER_OPERATION_IN_PROGRESS"),
    CLEAN,
    0,
    "retry",
  ],
  // network
  ["network failure of a lifecycle call", "VM.start", network(), CLEAN, 0, "retry-if-unmoved"],
  ["network failure of a clean call", "VM.clean_shutdown", network(), CLEAN_THEN_HARD, 1, "retry-if-unmoved"],
  ["network failure of a setter", "VM.set_PV_args", network(), CLEAN, 0, "retry"],
  ["network failure of VBD.set_bootable", "VBD.set_bootable", network(), CLEAN, 2, "retry"],
  ["network failure, retries exhausted", "VM.start", network(), CLEAN, 5, "stop"],
  // the VM moved
  ["VM_BAD_POWER_STATE", "VM.suspend", xapi("VM_BAD_POWER_STATE"), CLEAN, 0, "replan-if-moved"],
  ["TASK_CANCELLED", "VM.start", xapi("TASK_CANCELLED"), CLEAN, 0, "replan-if-moved"],
  ["HANDLE_INVALID (vanished task)", "VM.resume", xapi("HANDLE_INVALID"), CLEAN, 0, "replan-if-moved"],
  ["HANDLE_INVALID of a setter", "VM.set_PV_args", xapi("HANDLE_INVALID"), CLEAN, 0, "stop"],
  // anything else
  ["BOOTLOADER_FAILED", "VM.start", xapi("BOOTLOADER_FAILED"), CLEAN, 0, "stop"],
  ["INTERNAL_ERROR", "VM.start", xapi("INTERNAL_ERROR"), CLEAN, 0, "stop"],
  ["a non-client error", "VM.start", new Error("boom"), CLEAN, 0, "stop"],
];

describe("onFailure: one row per failure", () => {
  it.each(ROWS)("%s: %s → %s", (_name, call, error, policy, attempt, expected) => {
    expect(onFailure(call, error, policy, attempt)).toBe(expected);
  });

  it("under clean-then-hard, allowDiscardSuspendedState does not let a VM Suspended at the start escalate", () => {
    // clean-then-hard never discards (allowDiscardSuspendedState needs shutdown "hard").
    const policy = { ...CLEAN_THEN_HARD, startedSuspended: true, allowDiscardSuspendedState: true };
    expect(onFailure("VM.clean_shutdown", xapi("VM_LACKS_FEATURE"), policy, 0)).toBe(
      "stop-keep-suspended-image",
    );
  });

  it("is pure: the same input gives the same decision", () => {
    const error = xapi("OTHER_OPERATION_IN_PROGRESS");
    expect(onFailure("VM.start", error, CLEAN, 1)).toBe(onFailure("VM.start", error, CLEAN, 1));
  });
});
