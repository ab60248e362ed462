import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BootBlockSchema,
  checkBootOrder,
  fromXapiBootFields,
  HvmBootSchema,
  isControlDomainPath,
  normalizePv,
  PvBootSchema,
  toXapiBootFields,
} from "../provider/boot/schema";
import type { XapiBootFields } from "../provider/model/boot";

const BLANK: XapiBootFields = {
  domain_type: "hvm",
  HVM_boot_policy: "BIOS order",
  HVM_boot_params: {},
  PV_bootloader: "",
  PV_kernel: "",
  PV_ramdisk: "",
  PV_args: "",
  PV_bootloader_args: "",
};

const issues = (schema: { safeParse: (v: unknown) => { error?: { issues: unknown[] } } }, v: unknown) =>
  (schema.safeParse(v).error?.issues ?? []) as { path: PropertyKey[]; code: string; message: string }[];
const paths = (list: { path: PropertyKey[] }[]) => list.map((i) => i.path.join("."));

describe("PV normalization (the seed's rules made explicit)", () => {
  it("bootloader and kernel both empty means pygrub", () => {
    expect(normalizePv({}).bootloader).toBe("pygrub");
  });

  it("empty bootloader with a kernel is direct kernel boot", () => {
    expect(normalizePv({ kernel: "/var/lib/xcp/guest/vmlinuz" }).bootloader).toBe("");
  });

  it("keeps a full-path bootloader and passes the other fields unmodified", () => {
    const pv = {
      bootloader: "/usr/lib/xen/bin/pygrub",
      kernel: "k",
      ramdisk: "r",
      args: "a b",
      bootloaderArgs: "--x",
    };
    expect(normalizePv(pv)).toEqual(pv);
  });

  it("fills omitted strings with empty ones", () => {
    expect(normalizePv({ bootloader: "pygrub" })).toEqual({
      bootloader: "pygrub",
      kernel: "",
      ramdisk: "",
      args: "",
      bootloaderArgs: "",
    });
  });
});

describe("toXapiBootFields", () => {
  it("maps pv to domain_type pv, an empty HVM policy and all PV fields", () => {
    expect(toXapiBootFields({ pv: { args: "console=hvc0" } })).toMatchInlineSnapshot(`
      {
        "HVM_boot_policy": "",
        "PV_args": "console=hvc0",
        "PV_bootloader": "pygrub",
        "PV_bootloader_args": "",
        "PV_kernel": "",
        "PV_ramdisk": "",
        "domain_type": "pv",
      }
    `);
  });

  it("maps hvm to domain_type hvm, policy BIOS order and the boot params", () => {
    expect(
      toXapiBootFields({ hvm: { bootParams: { order: "dc", firmware: "uefi" } } }),
    ).toMatchInlineSnapshot(`
      {
        "HVM_boot_params": {
          "firmware": "uefi",
          "order": "dc",
        },
        "HVM_boot_policy": "BIOS order",
        "domain_type": "hvm",
      }
    `);
  });

  it("leaves firmware out when it is not declared (not managed)", () => {
    expect(toXapiBootFields({ hvm: { bootParams: { order: "c" } } }).HVM_boot_params).toEqual({ order: "c" });
  });

  it("manages nothing when neither group is given", () => {
    expect(toXapiBootFields({})).toEqual({});
  });

  it("refuses both groups at once", () => {
    const both = { pv: {}, hvm: { bootParams: { order: "c" } } } as unknown as Parameters<
      typeof toXapiBootFields
    >[0];
    expect(() => toXapiBootFields(both)).toThrow(TypeError);
  });
});

describe("fromXapiBootFields", () => {
  it("reports HVM with XAPI's defaults for a missing order and firmware", () => {
    expect(fromXapiBootFields(BLANK)).toEqual({ hvm: { bootParams: { order: "cd", firmware: "bios" } } });
  });

  it("treats domain_type unspecified with a non-empty policy as HVM (xapi-semantics §7.3)", () => {
    expect("hvm" in fromXapiBootFields({ ...BLANK, domain_type: "unspecified" })).toBe(true);
  });

  it("treats domain_type unspecified with an empty policy as PV", () => {
    expect("pv" in fromXapiBootFields({ ...BLANK, domain_type: "unspecified", HVM_boot_policy: "" })).toBe(
      true,
    );
  });

  it("reports pvh as the pv group with the stored fields", () => {
    const fields = {
      ...BLANK,
      domain_type: "pvh" as const,
      HVM_boot_policy: "",
      PV_bootloader: "pygrub",
      PV_args: "quiet",
    };
    expect(fromXapiBootFields(fields)).toEqual({
      pv: { bootloader: "pygrub", kernel: "", ramdisk: "", args: "quiet", bootloaderArgs: "" },
    });
  });

  const pvArb = fc
    .record(
      {
        bootloader: fc.constantFrom("", "pygrub", "/opt/bin/loader"),
        kernel: fc.constantFrom("", "/var/lib/xcp/guest/vmlinuz"),
        ramdisk: fc.constantFrom("", "/var/lib/xcp/guest/initrd"),
        args: fc.string(),
        bootloaderArgs: fc.string(),
      },
      { requiredKeys: [] },
    )
    .filter((pv) => PvBootSchema.safeParse(pv).success);

  it("inverts toXapiBootFields for pv (modulo normalization)", () => {
    fc.assert(
      fc.property(pvArb, (pv) => {
        const fields = { ...BLANK, ...toXapiBootFields({ pv }) };
        expect(fromXapiBootFields(fields)).toEqual({ pv: normalizePv(pv) });
      }),
    );
  });

  it("inverts toXapiBootFields for hvm, the VM's firmware showing through when not declared", () => {
    const hvmArb = fc.record(
      {
        order: fc.constantFrom("c", "dc", "ncd"),
        firmware: fc.constantFrom("bios" as const, "uefi" as const),
      },
      { requiredKeys: ["order"] },
    );
    fc.assert(
      fc.property(hvmArb, fc.constantFrom("bios", "uefi"), (bootParams, vmFirmware) => {
        const declared = toXapiBootFields({ hvm: { bootParams } });
        const params = { firmware: vmFirmware, ...declared.HVM_boot_params };
        const fields = { ...BLANK, ...declared, HVM_boot_params: params };
        expect(fromXapiBootFields(fields)).toEqual({
          hvm: { bootParams: { order: bootParams.order, firmware: bootParams.firmware ?? vmFirmware } },
        });
      }),
    );
  });
});

describe("HVM boot order (QEMU -boot order rules)", () => {
  it("accepts 1 to 3 distinct devices among a, b, c, d, n", () => {
    const valid = fc
      .shuffledSubarray(["a", "b", "c", "d", "n"], { minLength: 1, maxLength: 3 })
      .map((d) => d.join(""));
    fc.assert(fc.property(valid, (order) => checkBootOrder(order) === undefined));
  });

  it("rejects any other letter", () => {
    const bad = fc
      .string({ minLength: 1, maxLength: 3 })
      .filter((s) => [...s].some((c) => !"abcdn".includes(c)));
    fc.assert(fc.property(bad, (order) => checkBootOrder(order) !== undefined));
  });

  it("rejects an empty order", () => {
    expect(checkBootOrder("")).toMatchInlineSnapshot(
      `"Invalid value: expected 1 to 3 boot devices from "a"/"b" (floppy), "c" (disk), "d" (CD-ROM), "n" (network), none repeated, received "". Use "cd" for XAPI's default (disk, then CD-ROM)."`,
    );
  });

  it("rejects upper case with a hint", () => {
    expect(checkBootOrder("CD")).toMatchInlineSnapshot(
      `"Invalid value: expected 1 to 3 boot devices from "a"/"b" (floppy), "c" (disk), "d" (CD-ROM), "n" (network), none repeated, received "CD". Boot devices are lower-case letters."`,
    );
  });

  it("rejects a device QEMU's PC machine does not know", () => {
    expect(checkBootOrder("ce")).toMatchInlineSnapshot(
      `"Invalid value: expected 1 to 3 boot devices from "a"/"b" (floppy), "c" (disk), "d" (CD-ROM), "n" (network), none repeated, received "ce". "e" is not a boot device QEMU's PC machine accepts."`,
    );
  });

  it("rejects a repeated device", () => {
    expect(checkBootOrder("cdc")).toMatchInlineSnapshot(
      `"Invalid value: expected 1 to 3 boot devices from "a"/"b" (floppy), "c" (disk), "d" (CD-ROM), "n" (network), none repeated, received "cdc". "c" appears twice; QEMU rejects it."`,
    );
  });

  it("rejects more than 3 devices", () => {
    expect(checkBootOrder("abcd")).toMatchInlineSnapshot(
      `"Invalid value: expected 1 to 3 boot devices from "a"/"b" (floppy), "c" (disk), "d" (CD-ROM), "n" (network), none repeated, received "abcd". QEMU's PC machine accepts at most 3 boot devices."`,
    );
  });
});

describe("control-domain paths", () => {
  it.each(["/usr/lib/xen/bin/pygrub", "/var/lib/xcp/guest/vmlinuz-6.1", "/x"])("accepts %s", (p) => {
    expect(isControlDomainPath(p)).toBe(true);
  });

  it.each(["pygrub", "", "/", "/usr/bin/", "relative/path", "/with space", "/tab\there"])(
    "rejects %j",
    (p) => {
      expect(isControlDomainPath(p)).toBe(false);
    },
  );
});

describe("schemas", () => {
  it("pv is strict: a misspelt key fails at its path", () => {
    expect(issues(PvBootSchema, { bootloder: "pygrub" }).map((i) => i.code)).toEqual(["unrecognized_keys"]);
  });

  it("pv rejects a bootloader that is neither pygrub nor a full path", () => {
    expect(paths(issues(PvBootSchema, { bootloader: "grub2" }))).toEqual(["bootloader"]);
  });

  it("pv rejects a relative kernel path for direct kernel boot", () => {
    expect(paths(issues(PvBootSchema, { kernel: "vmlinuz" }))).toEqual(["kernel"]);
  });

  it("pv passes kernel and ramdisk to pygrub unmodified (guest paths are fine)", () => {
    expect(issues(PvBootSchema, { bootloader: "pygrub", kernel: "boot/vmlinuz", ramdisk: "initrd" })).toEqual(
      [],
    );
  });

  it("pv rejects a relative ramdisk for direct kernel boot", () => {
    expect(paths(issues(PvBootSchema, { kernel: "/var/lib/xcp/guest/k", ramdisk: "initrd" }))).toEqual([
      "ramdisk",
    ]);
  });

  it("hvm requires bootParams.order", () => {
    expect(paths(issues(HvmBootSchema, { bootParams: {} }))).toEqual(["bootParams.order"]);
  });

  it("hvm accepts firmware bios or uefi only", () => {
    expect(paths(issues(HvmBootSchema, { bootParams: { order: "c", firmware: "efi" } }))).toEqual([
      "bootParams.firmware",
    ]);
  });

  it("hvm is strict at every level", () => {
    expect(
      paths(issues(HvmBootSchema, { bootParams: { order: "c", ordre: "d" }, policy: "x" })).sort(),
    ).toEqual(["", "bootParams"]);
  });

  it("pv and hvm together fail on both properties", () => {
    const both = { pv: { bootloader: "pygrub" }, hvm: { bootParams: { order: "c" } } };
    expect(issues(BootBlockSchema, both).map((i) => [i.path.join("."), i.message])).toMatchInlineSnapshot(`
      [
        [
          "pv",
          "Conflicting properties: expected exactly one of "pv" or "hvm", received both. PV and HVM boot settings are mutually exclusive groups; remove one of them.",
        ],
        [
          "hvm",
          "Conflicting properties: expected exactly one of "pv" or "hvm", received both. PV and HVM boot settings are mutually exclusive groups; remove one of them.",
        ],
      ]
    `);
  });
});
