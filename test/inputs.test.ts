import { describe, expect, it } from "vitest";
import { UNKNOWN_SENTINEL as U, validateVmInputs } from "../provider/inputs";

const T = { template: "Debian Bookworm 12" };
const UUID = "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c";

function failures(raw: unknown) {
  const result = validateVmInputs(raw);
  if (result.ok) throw new Error("expected failures, got a valid result");
  return result.failures;
}

// [what is wrong, raw inputs, the property the failure must name]
const INVALID: readonly (readonly [string, unknown, string])[] = [
  ["powerState Crashed", { ...T, powerState: "Crashed" }, "powerState"],
  ["powerState lower case", { ...T, powerState: "running" }, "powerState"],
  ["powerState unknown word", { ...T, powerState: "Stopped" }, "powerState"],
  ["powerState number", { ...T, powerState: 1 }, "powerState"],
  ["powerState empty", { ...T, powerState: "" }, "powerState"],
  ["powerState boolean", { ...T, powerState: true }, "powerState"],
  ["pv misspelt key", { ...T, pv: { bootloder: "pygrub" } }, "pv.bootloder"],
  ["pv unknown key", { ...T, pv: { cmdline: "quiet" } }, "pv.cmdline"],
  ["pv as a string", { ...T, pv: "pygrub" }, "pv"],
  ["pv bootloader unknown name", { ...T, pv: { bootloader: "grub" } }, "pv.bootloader"],
  ["pv bootloader relative path", { ...T, pv: { bootloader: "bin/pygrub" } }, "pv.bootloader"],
  ["pv bootloader number", { ...T, pv: { bootloader: 1 } }, "pv.bootloader"],
  ["pv direct kernel relative", { ...T, pv: { kernel: "vmlinuz" } }, "pv.kernel"],
  [
    "pv direct ramdisk relative",
    { ...T, pv: { kernel: "/var/lib/xcp/guest/k", ramdisk: "initrd" } },
    "pv.ramdisk",
  ],
  ["pv args number", { ...T, pv: { args: 42 } }, "pv.args"],
  ["pv bootloaderArgs array", { ...T, pv: { bootloaderArgs: ["-q"] } }, "pv.bootloaderArgs"],
  ["hvm empty", { ...T, hvm: {} }, "hvm.bootParams"],
  ["hvm as a string", { ...T, hvm: "cd" }, "hvm"],
  ["hvm misspelt key", { ...T, hvm: { bootParms: { order: "cd" } } }, "hvm.bootParms"],
  ["hvm order missing", { ...T, hvm: { bootParams: {} } }, "hvm.bootParams.order"],
  ["hvm order empty", { ...T, hvm: { bootParams: { order: "" } } }, "hvm.bootParams.order"],
  ["hvm order bad letter", { ...T, hvm: { bootParams: { order: "cx" } } }, "hvm.bootParams.order"],
  ["hvm order repeated", { ...T, hvm: { bootParams: { order: "cc" } } }, "hvm.bootParams.order"],
  ["hvm order too long", { ...T, hvm: { bootParams: { order: "cdna" } } }, "hvm.bootParams.order"],
  ["hvm order upper case", { ...T, hvm: { bootParams: { order: "DC" } } }, "hvm.bootParams.order"],
  ["hvm order number", { ...T, hvm: { bootParams: { order: 12 } } }, "hvm.bootParams.order"],
  [
    "hvm firmware efi",
    { ...T, hvm: { bootParams: { order: "c", firmware: "efi" } } },
    "hvm.bootParams.firmware",
  ],
  [
    "hvm firmware upper case",
    { ...T, hvm: { bootParams: { order: "c", firmware: "UEFI" } } },
    "hvm.bootParams.firmware",
  ],
  [
    "hvm bootParams misspelt key",
    { ...T, hvm: { bootParams: { order: "c", fw: "bios" } } },
    "hvm.bootParams.fw",
  ],
  ["pv and hvm together (pv)", { ...T, pv: {}, hvm: { bootParams: { order: "c" } } }, "pv"],
  ["pv and hvm together (hvm)", { ...T, pv: {}, hvm: { bootParams: { order: "c" } } }, "hvm"],
  ["policy shutdown unknown", { ...T, policy: { shutdown: "force" } }, "policy.shutdown"],
  ["policy shutdown misspelt", { ...T, policy: { shutdown: "clean-than-hard" } }, "policy.shutdown"],
  ["policy bootChanges unknown", { ...T, policy: { bootChanges: "reboot" } }, "policy.bootChanges"],
  [
    "policy allowDiscard string",
    { ...T, policy: { allowDiscardSuspendedState: "yes" } },
    "policy.allowDiscardSuspendedState",
  ],
  ["policy misspelt key", { ...T, policy: { allowDiscardSuspended: true } }, "policy.allowDiscardSuspended"],
  ["policy as a string", { ...T, policy: "hard" }, "policy"],
  ["timeouts zero", { ...T, timeouts: { operationSeconds: 0 } }, "timeouts.operationSeconds"],
  ["timeouts negative", { ...T, timeouts: { operationSeconds: -5 } }, "timeouts.operationSeconds"],
  ["timeouts string", { ...T, timeouts: { operationSeconds: "10m" } }, "timeouts.operationSeconds"],
  ["timeouts misspelt key", { ...T, timeouts: { operation: 10 } }, "timeouts.operation"],
  ["no identity", { powerState: "Running" }, "template"],
  ["template and uuid (template)", { ...T, uuid: UUID }, "template"],
  ["template and uuid (uuid)", { ...T, uuid: UUID }, "uuid"],
  ["uuid malformed", { uuid: "vm-42" }, "uuid"],
  ["template blank", { template: "  " }, "template"],
  ["unknown top-level key", { ...T, memoryMiB: 1024 }, "memoryMiB"],
  ["restartTrigger number", { ...T, restartTrigger: 3 }, "restartTrigger"],
  ["deleteAdopted string", { uuid: UUID, deleteAdopted: "true" }, "deleteAdopted"],
];

describe("invalid inputs", () => {
  it("has at least 30 cases about powerState, pv, hvm and policy", () => {
    const about = INVALID.filter(([, , p]) => /^(powerState|pv|hvm|policy)/.test(p));
    expect(about.length).toBeGreaterThanOrEqual(30);
  });

  it.each(INVALID)("%s: the failure names %s", (_what, raw, property) => {
    expect.assertions(1);
    expect(failures(raw).map((f) => f.property)).toContain(property);
  });

  it.each(INVALID)("%s: every reason follows the formula (expected …, received …)", (_what, raw) => {
    expect.hasAssertions();
    for (const f of failures(raw)) expect(f.reason).toMatch(/^[A-Z][^:]*: expected .+, received .+\./);
  });
});

describe("reason wording", () => {
  it("Crashed cannot be declared", () => {
    expect(failures({ ...T, powerState: "Crashed" })).toMatchInlineSnapshot(`
      [
        {
          "property": "powerState",
          "reason": "Invalid value: expected one of "Halted", "Paused", "Running", "Suspended", received "Crashed". Crashed can be observed but not declared.",
        },
      ]
    `);
  });

  it("suggests the capitalised power state", () => {
    expect(failures({ ...T, powerState: "running" })).toMatchInlineSnapshot(`
      [
        {
          "property": "powerState",
          "reason": "Invalid value: expected one of "Halted", "Paused", "Running", "Suspended", received "running". Did you mean "Running"?",
        },
      ]
    `);
  });

  it("suggests the key a misspelt one was meant to be", () => {
    expect(failures({ ...T, pv: { bootloder: "pygrub" } })).toMatchInlineSnapshot(`
      [
        {
          "property": "pv.bootloder",
          "reason": "Unrecognized key "bootloder": expected one of "bootloader", "kernel", "ramdisk", "args", "bootloaderArgs", "domainType", received "bootloder". Did you mean "bootloader"?",
        },
      ]
    `);
  });

  it("suggests nothing when two keys are equally close (hv: pv or hvm?)", () => {
    expect(failures({ ...T, hv: {} }).map((f) => f.reason.includes("Did you mean"))).toEqual([false]);
  });

  it("lists the keys when no suggestion is close", () => {
    expect(failures({ ...T, memoryMiB: 1024 })).toMatchInlineSnapshot(`
      [
        {
          "property": "memoryMiB",
          "reason": "Unrecognized key "memoryMiB": expected one of "template", "uuid", "nameLabel", "nameDescription", "powerState", "pv", "hvm", "bootableDisks", "vcpus", "memory", "policy", "timeouts", "restartTrigger", "deleteAdopted", "takeOver", received "memoryMiB".",
        },
      ]
    `);
  });

  it("explains the PV bootloader rule", () => {
    expect(failures({ ...T, pv: { bootloader: "grub" } })).toMatchInlineSnapshot(`
      [
        {
          "property": "pv.bootloader",
          "reason": "Invalid value: expected "pygrub", "eliloader" or a full control-domain path such as "/usr/lib/xen/bin/pygrub", received "grub". Leave it empty and set "kernel" for direct kernel boot.",
        },
      ]
    `);
  });

  it("explains direct kernel boot paths", () => {
    expect(failures({ ...T, pv: { kernel: "vmlinuz" } })).toMatchInlineSnapshot(`
      [
        {
          "property": "pv.kernel",
          "reason": "Invalid value: expected a full control-domain path for direct kernel boot, such as "/var/lib/xcp/guest/vmlinuz", received "vmlinuz". Set "bootloader" to "pygrub" to boot a kernel from the guest's disk.",
        },
      ]
    `);
  });

  it("explains the QEMU boot order rule", () => {
    expect(failures({ ...T, hvm: { bootParams: { order: "cx" } } })).toMatchInlineSnapshot(`
      [
        {
          "property": "hvm.bootParams.order",
          "reason": "Invalid value: expected 1 to 3 boot devices from "a"/"b" (floppy), "c" (disk), "d" (CD-ROM), "n" (network), none repeated, received "cx". "x" is not a boot device QEMU's PC machine accepts.",
        },
      ]
    `);
  });

  it("says what is missing", () => {
    expect(failures({ ...T, hvm: {} })).toMatchInlineSnapshot(`
      [
        {
          "property": "hvm.bootParams",
          "reason": "Missing value: expected an object, received nothing. Write e.g. bootParams: { order: "cd" }.",
        },
      ]
    `);
  });

  it("says what type was expected", () => {
    expect(failures({ ...T, hvm: "cd" })).toMatchInlineSnapshot(`
      [
        {
          "property": "hvm",
          "reason": "Invalid type: expected an object, received "cd". Write e.g. hvm: { bootParams: { order: "cd" } }.",
        },
      ]
    `);
  });

  it("suggests the firmware value", () => {
    expect(failures({ ...T, hvm: { bootParams: { order: "c", firmware: "efi" } } })).toMatchInlineSnapshot(`
      [
        {
          "property": "hvm.bootParams.firmware",
          "reason": "Invalid value: expected one of "bios", "uefi", received "efi". Did you mean "uefi"?",
        },
      ]
    `);
  });

  it("names both groups when pv and hvm are given", () => {
    expect(failures({ ...T, pv: {}, hvm: { bootParams: { order: "c" } } })).toMatchInlineSnapshot(`
      [
        {
          "property": "pv",
          "reason": "Conflicting properties: expected exactly one of "pv" or "hvm", received both. PV and HVM boot settings are mutually exclusive groups; remove one of them.",
        },
        {
          "property": "hvm",
          "reason": "Conflicting properties: expected exactly one of "pv" or "hvm", received both. PV and HVM boot settings are mutually exclusive groups; remove one of them.",
        },
      ]
    `);
  });

  it("lists the shutdown modes", () => {
    expect(failures({ ...T, policy: { shutdown: "force" } })).toMatchInlineSnapshot(`
      [
        {
          "property": "policy.shutdown",
          "reason": "Invalid value: expected one of "clean", "clean-then-hard", "hard", received "force".",
        },
      ]
    `);
  });

  it("asks for a positive timeout", () => {
    expect(failures({ ...T, timeouts: { operationSeconds: 0 } })).toMatchInlineSnapshot(`
      [
        {
          "property": "timeouts.operationSeconds",
          "reason": "Invalid value: expected a number greater than 0, received 0. Timeouts are in seconds.",
        },
      ]
    `);
  });

  it("shows NaN as itself, not as null", () => {
    expect(failures({ ...T, timeouts: { operationSeconds: Number.NaN } })).toMatchInlineSnapshot(`
      [
        {
          "property": "timeouts.operationSeconds",
          "reason": "Invalid type: expected a number, received NaN. Timeouts are in seconds.",
        },
      ]
    `);
  });

  it("shows Infinity as itself, not as null", () => {
    expect(
      failures({ ...T, timeouts: { operationSeconds: Number.POSITIVE_INFINITY } }),
    ).toMatchInlineSnapshot(`
      [
        {
          "property": "timeouts.operationSeconds",
          "reason": "Invalid type: expected a number, received Infinity. Timeouts are in seconds.",
        },
      ]
    `);
  });

  it("asks for an identity", () => {
    expect(failures({})).toMatchInlineSnapshot(`
      [
        {
          "property": "template",
          "reason": "Missing identity: expected exactly one of "template" or "uuid", received neither. Set "template" to create a VM from a template, or "uuid" to adopt an existing VM.",
        },
      ]
    `);
  });

  it("shows a malformed uuid", () => {
    expect(failures({ uuid: "vm-42" })).toMatchInlineSnapshot(`
      [
        {
          "property": "uuid",
          "reason": "Invalid value: expected a VM uuid such as "5f8b0e3c-2a4d-4c6e-9b1a-0d2e3f4a5b6c", received "vm-42". Find it with "xe vm-list" or in Xen Orchestra.",
        },
      ]
    `);
  });

  it("rejects something that is not an object", () => {
    expect(failures("Running")).toMatchInlineSnapshot(`
      [
        {
          "property": "",
          "reason": "Invalid type: expected an object of Vm inputs, received "Running".",
        },
      ]
    `);
  });

  it("reports every failure, not only the first", () => {
    const props = failures({ powerState: "Crashed", hvm: { bootParams: { order: "" } } }).map(
      (f) => f.property,
    );
    expect(props.sort()).toEqual(["hvm.bootParams.order", "powerState", "template"]);
  });
});

describe("valid inputs", () => {
  it("applies the defaults", () => {
    expect(validateVmInputs(T)).toMatchInlineSnapshot(`
      {
        "ok": true,
        "unknowns": [],
        "value": {
          "policy": {
            "allowDiscardSuspendedState": false,
            "bootChanges": "restart",
            "powerCycle": "refuse",
            "shutdown": "clean",
          },
          "powerState": "Running",
          "template": "Debian Bookworm 12",
        },
      }
    `);
  });

  it("keeps a full declaration as given", () => {
    const raw = {
      uuid: UUID,
      nameLabel: "web-1",
      nameDescription: "front end",
      powerState: "Suspended",
      pv: { bootloader: "pygrub", args: "console=hvc0" },
      vcpus: { atStartup: 2, max: 4 },
      memory: { staticMax: "4GiB", dynamicMin: 1073741824, dynamicMax: "2GiB" },
      policy: {
        shutdown: "clean-then-hard",
        bootChanges: "next-boot",
        allowDiscardSuspendedState: true,
        powerCycle: "allow",
      },
      timeouts: { operationSeconds: 90 },
      restartTrigger: "v2",
      deleteAdopted: true,
    };
    const result = validateVmInputs(raw);
    expect(result.ok && result.value).toEqual(raw);
  });

  it("ignores Pulumi's __provider property", () => {
    expect(validateVmInputs({ ...T, __provider: "serialized closure" }).ok).toBe(true);
  });

  it("ignores keys the caller names", () => {
    expect(validateVmInputs({ ...T, plannedCalls: [] }, { ignoreKeys: ["plannedCalls"] }).ok).toBe(true);
  });
});

describe("unknown values during preview", () => {
  it("does not validate an unknown field and reports it", () => {
    const result = validateVmInputs({ ...T, powerState: U });
    expect([result.ok, result.unknowns]).toEqual([true, ["powerState"]]);
  });

  it("reports nested unknown fields by dot path", () => {
    const result = validateVmInputs({ ...T, hvm: { bootParams: { order: U, firmware: "uefi" } } });
    expect(result.unknowns).toEqual(["hvm.bootParams.order"]);
  });

  it("leaves a partly unknown top-level property out of the value", () => {
    const result = validateVmInputs({ ...T, hvm: { bootParams: { order: U } } });
    expect(result.ok && "hvm" in result.value).toBe(false);
  });

  it("still reports failures of known fields", () => {
    const result = validateVmInputs({ ...T, powerState: U, hvm: { bootParams: { order: "cx" } } });
    expect(result.ok ? [] : result.failures.map((f) => f.property)).toEqual(["hvm.bootParams.order"]);
  });

  it("skips a rule that reads an unknown sibling (direct-boot kernel path vs unknown bootloader)", () => {
    expect(validateVmInputs({ ...T, pv: { bootloader: U, kernel: "boot/vmlinuz" } }).ok).toBe(true);
  });

  it("applies the same rule once the sibling is known", () => {
    expect(validateVmInputs({ ...T, pv: { bootloader: "", kernel: "boot/vmlinuz" } }).ok).toBe(false);
  });

  it("skips the identity rule while the template is unknown", () => {
    expect(validateVmInputs({ template: U, uuid: UUID }).ok).toBe(true);
  });

  it("still rejects pv with hvm when only a field inside one of them is unknown", () => {
    const result = validateVmInputs({ ...T, pv: { args: U }, hvm: { bootParams: { order: "c" } } });
    expect(result.ok ? [] : result.failures.map((f) => f.property)).toEqual(["pv", "hvm"]);
  });

  it("accepts the sentinel in a number field", () => {
    expect(validateVmInputs({ ...T, timeouts: { operationSeconds: U } }).unknowns).toEqual([
      "timeouts.operationSeconds",
    ]);
  });
});

// bootableDisks: userdevices of the disks that must be bootable, validated with the one wording formula
// (what failed, expected vs received, a hint).
describe("bootableDisks", () => {
  const PV = { template: "Generic PV (pygrub)" };

  /** The failures of `raw`, or [] when it is valid. */
  function bootableFailures(raw: Record<string, unknown>) {
    const result = validateVmInputs(raw);
    return result.ok ? [] : result.failures;
  }

  it("accepts userdevices as decimal strings, in any order", () => {
    const result = validateVmInputs({ ...PV, bootableDisks: ["3", "0"] });
    expect(result.ok ? result.value.bootableDisks : result.failures).toEqual(["3", "0"]);
  });

  it("accepts [] (no disk bootable)", () => {
    const result = validateVmInputs({ ...PV, bootableDisks: [] });
    expect(result.ok ? result.value.bootableDisks : result.failures).toEqual([]);
  });

  it("leaves the flags unmanaged when omitted", () => {
    const result = validateVmInputs(PV);
    expect(result.ok && "bootableDisks" in result.value).toBe(false);
  });

  it("asks for a string when given a number", () => {
    expect(bootableFailures({ ...PV, bootableDisks: [0] })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks.0",
          "reason": "Invalid value: expected the userdevice of one of the VM's disks, a decimal string such as "0" or a device name such as "xvda", received 0. Write it as a string: "0".",
        },
      ]
    `);
  });

  it("accepts a device name, as XAPI reads userdevices (xvda is disk 0)", () => {
    expect(bootableFailures({ ...PV, bootableDisks: ["xvda", "1"] })).toEqual([]);
  });

  it("rejects a name XAPI would not read as a device", () => {
    expect(bootableFailures({ ...PV, bootableDisks: ["disk0"] })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks.0",
          "reason": "Invalid value: expected the userdevice of one of the VM's disks, a decimal string such as "0" or a device name such as "xvda", received "disk0". List them with "xe vbd-list vm-uuid=<uuid>".",
        },
      ]
    `);
  });

  it("rejects the same disk named twice, by number and by device name", () => {
    expect(bootableFailures({ ...PV, bootableDisks: ["0", "xvda"] })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks.1",
          "reason": "Duplicate value: expected each disk at most once, received "xvda". "0" and "xvda" name the same disk (XAPI reads both as disk 0); keep one.",
        },
      ]
    `);
  });

  it("rejects a repeated userdevice", () => {
    expect(bootableFailures({ ...PV, bootableDisks: ["0", "1", "0"] })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks.2",
          "reason": "Duplicate value: expected each disk at most once, received "0". Remove the repeated entry.",
        },
      ]
    `);
  });

  it("rejects something that is not a list", () => {
    expect(bootableFailures({ ...PV, bootableDisks: "0" })).toMatchInlineSnapshot(`
      [
        {
          "property": "bootableDisks",
          "reason": "Invalid type: expected an array, received "0". Write e.g. bootableDisks: ["0"] (userdevices of the VM's disks).",
        },
      ]
    `);
  });

  it("treats a list with an unknown element (preview) as unknown", () => {
    const result = validateVmInputs({ ...PV, bootableDisks: ["0", U] });
    expect([result.ok, result.unknowns]).toEqual([true, ["bootableDisks"]]);
  });
});
