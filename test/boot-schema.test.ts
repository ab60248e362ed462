import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BootBlockSchema,
  checkBootOrder,
  fromXapiBootFields,
  HvmBootSchema,
  isControlDomainPath,
  PvBootSchema,
  toXapiBootFields,
} from "../provider/boot/schema";
import { resolveDeclaredBoot, type XapiBootFields } from "../provider/model/boot";

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

describe("toXapiBootFields: pv declares only what the block declares", () => {
  it("maps pv to an empty HVM policy and the written PV fields only (no domain type unless declared)", () => {
    expect(toXapiBootFields({ pv: { args: "console=hvc0" } })).toEqual({
      HVM_boot_policy: "",
      PV_args: "console=hvc0",
    });
  });

  it('pv: { bootloader: "pygrub" } declares the bootloader, not PV_args, PV_kernel or PV_ramdisk', () => {
    expect(toXapiBootFields({ pv: { bootloader: "pygrub" } })).toEqual({
      HVM_boot_policy: "",
      PV_bootloader: "pygrub",
    });
  });

  it("pv: {} declares the PV group only (an empty HVM policy)", () => {
    expect(toXapiBootFields({ pv: {} })).toEqual({ HVM_boot_policy: "" });
  });

  it('pv: { domainType: "pvh" } declares the domain type', () => {
    expect(toXapiBootFields({ pv: { domainType: "pvh", bootloader: "pygrub" } })).toEqual({
      domain_type: "pvh",
      HVM_boot_policy: "",
      PV_bootloader: "pygrub",
    });
  });

  it("a non-empty kernel without a bootloader also declares an empty bootloader (direct boot)", () => {
    expect(toXapiBootFields({ pv: { kernel: "/var/lib/xcp/guest/vmlinuz" } })).toEqual({
      HVM_boot_policy: "",
      PV_bootloader: "",
      PV_kernel: "/var/lib/xcp/guest/vmlinuz",
    });
  });

  it("an empty kernel without a bootloader leaves the bootloader undeclared", () => {
    expect(toXapiBootFields({ pv: { kernel: "" } })).toEqual({
      HVM_boot_policy: "",
      PV_kernel: "",
    });
  });

  it("a kernel with a bootloader keeps the bootloader", () => {
    expect(toXapiBootFields({ pv: { bootloader: "pygrub", kernel: "boot/vmlinuz" } })).toEqual({
      HVM_boot_policy: "",
      PV_bootloader: "pygrub",
      PV_kernel: "boot/vmlinuz",
    });
  });

  it("passes all five written fields unmodified", () => {
    const pv = {
      bootloader: "/usr/lib/xen/bin/pygrub",
      kernel: "k",
      ramdisk: "r",
      args: "a  b",
      bootloaderArgs: "--x",
    };
    expect(toXapiBootFields({ pv })).toEqual({
      HVM_boot_policy: "",
      PV_bootloader: "/usr/lib/xen/bin/pygrub",
      PV_kernel: "k",
      PV_ramdisk: "r",
      PV_args: "a  b",
      PV_bootloader_args: "--x",
    });
  });

  it("declares an empty bootloader and kernel as written (the pygrub rule needs the VM's fields)", () => {
    expect(toXapiBootFields({ pv: { bootloader: "", kernel: "" } })).toEqual({
      HVM_boot_policy: "",
      PV_bootloader: "",
      PV_kernel: "",
    });
  });
});

describe("resolveDeclaredBoot: the seed's pygrub rule on the resulting fields", () => {
  const PV_VM: XapiBootFields = { ...BLANK, domain_type: "pv", HVM_boot_policy: "", PV_args: "console=hvc0" };
  const PV_DECL = { domain_type: "pv", HVM_boot_policy: "" } as const;

  it("declares pygrub when neither the declaration nor the VM has a bootloader or kernel", () => {
    expect(resolveDeclaredBoot({ ...PV_DECL, PV_args: "x" }, PV_VM)).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
      PV_args: "x",
      PV_bootloader: "pygrub",
    });
  });

  it("declares pygrub for a declared empty bootloader when the VM has no kernel", () => {
    expect(resolveDeclaredBoot({ ...PV_DECL, PV_bootloader: "" }, PV_VM)).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
      PV_bootloader: "pygrub",
    });
  });

  it("declares pygrub when a declared empty kernel replaces the VM's direct kernel", () => {
    const direct = { ...PV_VM, PV_kernel: "/var/lib/xcp/guest/vmlinuz" };
    expect(resolveDeclaredBoot({ ...PV_DECL, PV_kernel: "" }, direct)).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
      PV_kernel: "",
      PV_bootloader: "pygrub",
    });
  });

  it("adds nothing when the VM keeps a direct kernel", () => {
    const direct = { ...PV_VM, PV_kernel: "/var/lib/xcp/guest/vmlinuz" };
    expect(resolveDeclaredBoot({ ...PV_DECL, PV_args: "x" }, direct)).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
      PV_args: "x",
    });
  });

  it("adds nothing when the VM keeps its bootloader", () => {
    const pygrub = { ...PV_VM, PV_bootloader: "pygrub" };
    expect(resolveDeclaredBoot({ ...PV_DECL, PV_kernel: "" }, pygrub)).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
      PV_kernel: "",
    });
  });

  it("keeps a pvh VM's domain type for a pv block without one (never a silent conversion)", () => {
    const pvh = { ...PV_VM, domain_type: "pvh", PV_bootloader: "pygrub" } as const;
    expect(resolveDeclaredBoot({ HVM_boot_policy: "", PV_args: "x" }, pvh)).toEqual({
      domain_type: "pvh",
      HVM_boot_policy: "",
      PV_args: "x",
    });
  });

  it('makes an HVM VM "pv" for a pv block without a domain type', () => {
    const hvm = {
      ...PV_VM,
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
      PV_bootloader: "pygrub",
    } as const;
    expect(resolveDeclaredBoot({ HVM_boot_policy: "" }, hvm)).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
    });
  });

  it("reads a record without domain_type (XAPI before 2.10) from its HVM_boot_policy", () => {
    const old = { ...PV_VM, HVM_boot_policy: "BIOS order", PV_bootloader: "pygrub" } as Record<
      string,
      unknown
    >;
    delete old.domain_type;
    expect(resolveDeclaredBoot({ HVM_boot_policy: "" }, old as unknown as XapiBootFields)).toEqual({
      domain_type: "pv",
      HVM_boot_policy: "",
    });
  });

  it("adds nothing to an HVM declaration, whatever the VM's PV fields", () => {
    const hvm = {
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "c" },
    } as const;
    expect(resolveDeclaredBoot(hvm, PV_VM)).toEqual({
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "c" },
    });
  });

  it("adds nothing to fields declared without domain_type pv", () => {
    expect(resolveDeclaredBoot({ PV_args: "quiet" }, PV_VM)).toEqual({ PV_args: "quiet" });
  });
});

describe("toXapiBootFields", () => {
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

  // With domain_type "unspecified" (records from pools before API 2.10), XAPI decides PV vs HVM from
  // HVM_boot_policy: empty ⇒ PV (docs/xapi-facts.md, "XAPI generations: domain_type arrived with API 2.10").
  it("treats domain_type unspecified with a non-empty policy as HVM", () => {
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

  it("inverts toXapiBootFields for pv: written keys read back, the VM's values for the others", () => {
    // A PV VM: a pv block without domainType keeps the VM's PV domain type.
    const vm: XapiBootFields = {
      ...BLANK,
      domain_type: "pv",
      HVM_boot_policy: "",
      PV_bootloader: "pygrub",
      PV_kernel: "vm-kernel",
      PV_ramdisk: "vm-ramdisk",
      PV_args: "vm-args",
      PV_bootloader_args: "vm-bootloader-args",
    };
    fc.assert(
      fc.property(pvArb, (pv) => {
        const fields = { ...vm, ...toXapiBootFields({ pv }) };
        const direct = pv.bootloader === undefined && pv.kernel !== undefined && pv.kernel !== "";
        expect(fromXapiBootFields(fields)).toEqual({
          pv: {
            bootloader: pv.bootloader ?? (direct ? "" : "pygrub"),
            kernel: pv.kernel ?? "vm-kernel",
            ramdisk: pv.ramdisk ?? "vm-ramdisk",
            args: pv.args ?? "vm-args",
            bootloaderArgs: pv.bootloaderArgs ?? "vm-bootloader-args",
          },
        });
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
    fc.assert(
      fc.property(valid, (order) => {
        expect(checkBootOrder(order)).toBeUndefined();
      }),
    );
  });

  it("rejects any other letter", () => {
    const bad = fc
      .string({ minLength: 1, maxLength: 3 })
      .filter((s) => [...s].some((c) => !"abcdn".includes(c)));
    fc.assert(
      fc.property(bad, (order) => {
        expect(checkBootOrder(order)).toBeDefined();
      }),
    );
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
    expect.assertions(1);
    expect(isControlDomainPath(p)).toBe(true);
  });

  it.each(["pygrub", "", "/", "/usr/bin/", "relative/path", "/with space", "/tab\there"])(
    "rejects %j",
    (p) => {
      expect.assertions(1);
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
