/**
 * Every sentence of the seed's "VM boot parameters" section, one test each (the sentence is quoted in
 * the test name), driven THROUGH THE PROVIDER: the `Vm` implementation's check/create/update run
 * against a real xapi-sim (`startSimulator`), and each test asserts what the VM really booted, read
 * from the simulator's control API `bootRecord` (`lastBoot`). Where xapi-sim follows XAPI rather than
 * the seed, the test says so and proves what the user gets (see simulator/README.md, "Boot outcome").
 */
import { describe, expect, it } from "vitest";
import { VmOperationError } from "../provider/resource/errors";
import * as impl from "../provider/resource/impl";
import { unpack } from "../provider/resource/stored";
import { XapiFault } from "../simulator/api";
import { DEBIAN_MENU_LST, FIXTURE } from "../simulator/model/fixture";
import { useProviderSim } from "./provider-sim";

type Bag = Record<string, unknown>;

/** The `lastBoot` of the `bootRecord` control op (simulator/README.md). */
interface LastBoot {
  method: "hvm" | "pv-direct" | "pv-bootloader";
  domain_type: string;
  HVM_boot_policy: string;
  HVM_boot_params: Record<string, string>;
  PV_args: string;
  firmware: string;
  qemuBootOrder: string | null;
  bootDevice: { letter: string; kind: string; userdevice: string | null } | null;
  bootloader: { name: string; path: string; argv: string[] } | null;
  kernel: string | null;
  ramdisk: string | null;
  cmdline: string | null;
  kernelSource: string | null;
  menuEntry: string | null;
  bootDisk: string | null;
  disks: { userdevice: string; path: string | null; bootable: boolean }[];
  via: string;
}

const PV_TEMPLATE = "Generic PV (pygrub)";
const HVM_TEMPLATE = "Other install media";
const PYGRUB = "/usr/libexec/xen/bin/pygrub";
/** The default entry of the fixture's Debian menu.lst. */
const MENU_KERNEL = "/boot/vmlinuz-6.1.0-18-amd64";
const MENU_ARGS = "root=/dev/xvda1 ro";
const DEBIAN_FILES = [
  "/boot/vmlinuz-6.1.0-17-amd64",
  "/boot/initrd.img-6.1.0-17-amd64",
  "/boot/vmlinuz-6.1.0-18-amd64",
  "/boot/initrd.img-6.1.0-18-amd64",
];

const target = useProviderSim();
const { control } = target;

/** What the VM last booted (the simulator's boot record). */
async function lastBoot(uuid: string): Promise<LastBoot> {
  const record = await control<{ lastBoot: LastBoot | null }>("bootRecord", { uuid });
  if (record.lastBoot === null) throw new Error(`VM ${uuid} never booted`);
  return record.lastBoot;
}

async function powerState(uuid: string): Promise<string> {
  const vms = await control<{ uuid: string; power_state: string }[]>("vms");
  return vms.find((vm) => vm.uuid === uuid)?.power_state ?? "gone";
}

/** `check` then `create`, as the engine does for a new resource. */
async function up(props: Bag): Promise<{ id: string; outs: Bag }> {
  const checked = await impl.check({}, props);
  if (checked.failures !== undefined && checked.failures.length > 0) {
    throw new Error(`check failed: ${JSON.stringify(checked.failures)}`);
  }
  const created = await impl.create(checked.inputs ?? {});
  return { id: created.id, outs: (created.outs ?? {}) as Bag };
}

/** `check` then `update` from the recorded outputs. */
async function change(id: string, olds: Bag, props: Bag): Promise<Bag> {
  const checked = await impl.check(olds, props);
  if (checked.failures !== undefined && checked.failures.length > 0) {
    throw new Error(`check failed: ${JSON.stringify(checked.failures)}`);
  }
  const updated = await impl.update(id, olds, checked.inputs ?? {});
  return (updated.outs ?? {}) as Bag;
}

/** The provider's failure (create/update reject with it). */
async function failure(run: Promise<unknown>): Promise<VmOperationError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof VmOperationError))
    throw new Error(`expected a VmOperationError, got ${String(error)}`);
  return error;
}

/** The XAPI error under a provider failure (VmOperationError → ExecutionError → XapiError): [code, ...params]. */
function xapiError(error: VmOperationError): string[] {
  const execution = error.cause as { cause?: { code?: string; params?: string[] } } | undefined;
  const xapi = execution?.cause;
  return xapi?.code === undefined ? [] : [xapi.code, ...(xapi.params ?? [])];
}

/** The control-domain path xapi-sim hands the bootloader for a VM's disk. */
async function diskPath(uuid: string, userdevice: string): Promise<string> {
  const disks = await control<{ userdevice: string; vdi: { uuid: string } | null }[]>("disks", { uuid });
  const vdi = disks.find((d) => d.userdevice === userdevice)?.vdi;
  if (!vdi) throw new Error(`VM ${uuid} has no disk at ${userdevice}`);
  return `/dev/sm/backend/${FIXTURE.localSr.uuid}/${vdi.uuid}`;
}

/** A raw XAPI call on the simulator (to show what XAPI itself does, without the provider). */
async function xapi(method: string, ...args: unknown[]): Promise<unknown> {
  const meta = { host: "master", transport: "jsonrpc" } as const;
  const session = await target.sim.model.dispatch("session.login_with_password", ["root", "xapi-sim"], meta);
  return target.sim.model.dispatch(method, [session, ...args], meta);
}

/**
 * The provider's outputs (stored form: `observed`, `__xapi`, no `uuid` for a created VM) as the operations
 * read them: `observedPowerState`, `lastCalls`, `effectiveBoot`, `uuid` (with the id), …
 */
const flat = (outs: Bag, id?: string): Bag => unpack(outs, id);

const calls = (outs: Bag): string[] =>
  ((flat(outs).lastCalls ?? []) as { call: string }[]).map((c) => c.call);

//////////////////////////////////////////////////////////////////////
// ¶1

describe("seed ¶1: the VM class's boot fields", () => {
  it('"The VM class contains a number of fields that control the way in which the VM is booted."', async () => {
    const { id } = await up({ template: PV_TEMPLATE, pv: { bootloader: "pygrub", args: "quiet splash" } });
    const record = (await xapi("VM.get_record", await xapi("VM.get_by_uuid", id))) as Bag;
    const boot = await lastBoot(id);
    expect([record.PV_bootloader, record.PV_args, boot.PV_args, boot.cmdline]).toEqual([
      "pygrub",
      "quiet splash",
      "quiet splash",
      `${MENU_ARGS}  quiet splash`,
    ]);
  });

  it('"With reference to the fields defined in the VM class (see later in this document), this section outlines the boot options available and the mechanisms provided for controlling them."', async () => {
    // The provider controls the boot through the VM class's own setters (and VBD.bootable), nothing else.
    const { id, outs } = await up({
      template: HVM_TEMPLATE,
      hvm: { bootParams: { order: "dc" } },
      bootableDisks: ["0"],
    });
    const boot = calls(outs).filter((c) => c.includes(".set_") && c !== "VM.set_is_a_template");
    expect(boot).toEqual(["VM.set_HVM_boot_params"]);
    expect((await lastBoot(String(flat(outs, id).uuid))).qemuBootOrder).toBe("dc");
  });
});

//////////////////////////////////////////////////////////////////////
// ¶2

describe("seed ¶2: PV or HVM", () => {
  it("\"VM booting is controlled by setting one of the two mutually exclusive groups: ``PV'', and ``HVM''.\"", async () => {
    const before = (await control<unknown[]>("vms")).length;
    const checked = await impl.check(
      {},
      { template: PV_TEMPLATE, pv: { bootloader: "pygrub" }, hvm: { bootParams: { order: "c" } } },
    );
    expect(checked.failures?.map((f) => f.property)).toEqual(["pv", "hvm"]);
    expect((await control<unknown[]>("vms")).length).toBe(before);
  });

  it('"If HVM.boot_policy is the empty string, then paravirtual domain building and booting will be used; otherwise the VM will be loaded as an HVM domain, and booted using an emulated BIOS." (PV part)', async () => {
    const declared = { template: HVM_TEMPLATE, pv: { bootloader: "pygrub" }, bootableDisks: ["0"] };
    const { id, outs } = await up({ ...declared, powerState: "Halted" });
    // The HVM template's provisioned disk is blank: give it the guest OS a PV boot needs.
    await control("setGuestDisk", {
      uuid: id,
      userdevice: "0",
      menuLst: DEBIAN_MENU_LST,
      files: DEBIAN_FILES,
    });
    await change(id, outs, { ...declared, powerState: "Running" });
    const boot = await lastBoot(id);
    expect([boot.HVM_boot_policy, boot.domain_type, boot.method, boot.qemuBootOrder]).toEqual([
      "",
      "pv",
      "pv-bootloader",
      null,
    ]);
  });

  it('"If HVM.boot_policy is the empty string, then paravirtual domain building and booting will be used; otherwise the VM will be loaded as an HVM domain, and booted using an emulated BIOS." (HVM part)', async () => {
    const { id } = await up({ template: PV_TEMPLATE, hvm: { bootParams: { order: "c" } } });
    const boot = await lastBoot(id);
    expect([boot.HVM_boot_policy, boot.domain_type, boot.method, boot.firmware, boot.kernel]).toEqual([
      "BIOS order",
      "hvm",
      "hvm",
      "bios",
      null,
    ]);
  });
});

//////////////////////////////////////////////////////////////////////
// ¶3

describe("seed ¶3: the PV bootloader and its command line", () => {
  it('"When paravirtual booting is in use, the PV/bootloader field indicates the bootloader to use."', async () => {
    // pvdirect-01 boots a control-domain kernel (no bootloader); declaring pygrub switches it to pygrub.
    const direct = { kernel: "/var/lib/xcp/guest/vmlinuz-6.1", args: "quiet" };
    const { id, outs } = await up({ uuid: FIXTURE.pvDirect.uuid, pv: direct });
    const before = await lastBoot(id);
    await change(id, outs, { uuid: FIXTURE.pvDirect.uuid, pv: { bootloader: "pygrub", args: "quiet" } });
    const after = await lastBoot(id);
    expect([before.bootloader, after.bootloader?.name, after.bootloader?.argv[0]]).toEqual([
      null,
      "pygrub",
      PYGRUB,
    ]);
  });

  it("\"It may be ``pygrub'', in which case the platform's default installation of pygrub will be used, or a full path within the control domain to some other bootloader.\" (pygrub)", async () => {
    const { id } = await up({ template: PV_TEMPLATE, pv: { bootloader: "pygrub" } });
    const boot = await lastBoot(id);
    expect([boot.bootloader?.path, boot.bootloader?.argv[0]]).toEqual([PYGRUB, PYGRUB]);
  });

  it("\"It may be ``pygrub'', in which case the platform's default installation of pygrub will be used, or a full path within the control domain to some other bootloader.\" (a full path: XAPI refuses it)", async () => {
    // xapi-sim follows XAPI's xenopsd: it knows the bootloaders "pygrub" and "eliloader" by name only,
    // and fails a start with Unknown_bootloader for any other value, a path included.
    const error = await failure(
      up({ template: PV_TEMPLATE, pv: { bootloader: "/opt/bootloaders/grub-xen" }, powerState: "Running" }),
    );
    expect([...xapiError(error), await powerState(error.id)]).toEqual([
      "INTERNAL_ERROR",
      'xenopsd internal error: Bootloader.Unknown_bootloader("/opt/bootloaders/grub-xen")',
      "Halted",
    ]);
  });

  it('"The other fields, PV/kernel, PV/ramdisk, PV/args and PV/bootloader_args will be passed to the bootloader unmodified, […]"', async () => {
    const pv = {
      bootloader: "pygrub",
      kernel: "/boot/vmlinuz-6.1.0-17-amd64",
      ramdisk: "/boot/initrd.img-6.1.0-17-amd64",
      args: "console=hvc0  quiet",
      bootloaderArgs: "--entry=1  --isconfig",
    };
    const { id } = await up({ template: PV_TEMPLATE, pv });
    expect((await lastBoot(id)).bootloader?.argv).toEqual([
      PYGRUB,
      "--output-format=simple",
      "-q",
      `--kernel=${pv.kernel}`,
      `--ramdisk=${pv.ramdisk}`,
      `--args=${pv.args}`,
      // PV_bootloader_args split on single spaces, as xenopsd does: the double space stays an empty word.
      "--entry=1",
      "",
      "--isconfig",
      await diskPath(id, "0"),
    ]);
  });

  it('"[…] and interpretation of those fields is then specific to the bootloader itself, including the possibility that the bootloader will ignore some or all of those given values."', async () => {
    // pygrub finds the guest's menu.lst and ignores the kernel and ramdisk it was given.
    const { id } = await up({
      template: PV_TEMPLATE,
      pv: {
        bootloader: "pygrub",
        kernel: "/boot/vmlinuz-6.1.0-17-amd64",
        ramdisk: "/boot/initrd.img-6.1.0-17-amd64",
      },
    });
    const boot = await lastBoot(id);
    expect([boot.kernelSource, boot.kernel, boot.ramdisk]).toEqual([
      "menu.lst",
      MENU_KERNEL,
      "/boot/initrd.img-6.1.0-18-amd64",
    ]);
  });

  it('"Finally the paths of all bootable disks are added to the bootloader commandline (a disk is bootable if its VBD has the bootable flag set)."', async () => {
    // pv-01: root disk 0, data disk 1, empty CD drive 3. Declare 3, 1 and 0 bootable: the empty drive has no path.
    const { id } = await up({
      uuid: FIXTURE.pv.uuid,
      pv: { bootloader: "pygrub" },
      bootableDisks: ["3", "1", "0"],
      policy: { shutdown: "hard" },
    });
    const boot = await lastBoot(id);
    const paths = [await diskPath(id, "0"), await diskPath(id, "1")];
    expect([boot.bootloader?.argv.slice(-2), boot.disks.map((d) => d.userdevice)]).toEqual([
      paths,
      ["0", "1"],
    ]);
  });

  it('"Finally the paths of all bootable disks are added […]": a disk whose VBD is not bootable is not added', async () => {
    const { id } = await up({
      uuid: FIXTURE.pv.uuid,
      pv: { bootloader: "pygrub" },
      bootableDisks: ["0"],
      policy: { shutdown: "hard" },
    });
    const argv = (await lastBoot(id)).bootloader?.argv ?? [];
    expect([argv.includes(await diskPath(id, "0")), argv.includes(await diskPath(id, "1"))]).toEqual([
      true,
      false,
    ]);
  });

  it('"There may be zero, one or many bootable disks; the bootloader decides which disk (if any) to boot from." (one)', async () => {
    const { id } = await up({ template: PV_TEMPLATE, pv: { bootloader: "pygrub" }, bootableDisks: ["0"] });
    const boot = await lastBoot(id);
    expect([boot.disks.map((d) => d.userdevice), boot.bootDisk]).toEqual([["0"], "0"]);
  });

  it('"There may be zero, one or many bootable disks; the bootloader decides which disk (if any) to boot from." (many: the first disk with a kernel)', async () => {
    // Both disks are passed; pygrub finds no kernel on disk 0 and boots from disk 1.
    await control("setGuestDisk", { uuid: FIXTURE.pv.uuid, userdevice: "0", menuLst: null, files: [] });
    await control("setGuestDisk", {
      uuid: FIXTURE.pv.uuid,
      userdevice: "1",
      menuLst: DEBIAN_MENU_LST,
      files: DEBIAN_FILES,
    });
    const { id } = await up({
      uuid: FIXTURE.pv.uuid,
      pv: { bootloader: "pygrub" },
      bootableDisks: ["0", "1"],
      policy: { shutdown: "hard" },
    });
    const boot = await lastBoot(id);
    expect([boot.disks.map((d) => d.userdevice), boot.bootDisk, boot.kernel]).toEqual([
      ["0", "1"],
      "1",
      MENU_KERNEL,
    ]);
  });

  it('"There may be zero, one or many bootable disks; the bootloader decides which disk (if any) to boot from." (zero: the start fails, naming the VM and saying no disk is bootable; the VM is kept)', async () => {
    const error = await failure(
      up({
        template: PV_TEMPLATE,
        nameLabel: "diskless-pv",
        pv: { bootloader: "pygrub" },
        bootableDisks: [],
      }),
    );
    const props = error.properties;
    const seen = flat(props, error.id);
    expect(error.message).toContain(
      `VM "diskless-pv" (${error.id}) was created but could not be brought to its declared state`,
    );
    expect(xapiError(error)).toEqual([
      "INTERNAL_ERROR",
      "xenopsd internal error: there is no bootable device",
    ]);
    expect(error.message).toContain("No disk of this VM is bootable");
    // What the engine records: the VM as it is, Halted, with its (non-)bootable disks and the calls made.
    expect(error.message).toContain("VM.start (Halted → Running) failed");
    expect([seen.uuid, seen.observedPowerState, seen.bootableDisks, calls(props).at(-1)]).toEqual([
      error.id,
      "Halted",
      [],
      "VBD.set_bootable",
    ]);
    expect(await powerState(error.id)).toBe("Halted");
    // Nothing lost: the next `pulumi up` updates the recorded VM from there.
    const outs = await change(error.id, props, { ...pickInputs(props), bootableDisks: ["0"] });
    expect([flat(outs).observedPowerState, (await lastBoot(error.id)).bootDisk]).toEqual(["Running", "0"]);
  });
});

//////////////////////////////////////////////////////////////////////
// ¶4

describe("seed ¶4: pygrub", () => {
  it('"If the bootloader is pygrub, then the menu.lst is parsed if present in the guest\'s filesystem, […]"', async () => {
    const { id } = await up({ template: PV_TEMPLATE, pv: { bootloader: "pygrub" } });
    const boot = await lastBoot(id);
    expect([boot.kernelSource, boot.menuEntry, boot.kernel, boot.ramdisk]).toEqual([
      "menu.lst",
      "Debian GNU/Linux 12, kernel 6.1.0-18-amd64",
      MENU_KERNEL,
      "/boot/initrd.img-6.1.0-18-amd64",
    ]);
  });

  it('"[…] otherwise the specified kernel and ramdisk are used, […]"', async () => {
    await control("setGuestDisk", { uuid: FIXTURE.pvDirect.uuid, userdevice: "0", menuLst: null });
    const kernel = "/boot/vmlinuz-6.1.0-17-amd64";
    const ramdisk = "/boot/initrd.img-6.1.0-17-amd64";
    const { id } = await up({ uuid: FIXTURE.pvDirect.uuid, pv: { bootloader: "pygrub", kernel, ramdisk } });
    const boot = await lastBoot(id);
    expect([boot.kernelSource, boot.kernel, boot.ramdisk]).toEqual(["specified", kernel, ramdisk]);
  });

  it('"[…] or an autodetected kernel is used if nothing is specified and autodetection is possible."', async () => {
    await control("setGuestDisk", { uuid: FIXTURE.pvDirect.uuid, userdevice: "0", menuLst: null });
    // pvdirect-01 has a control-domain kernel and ramdisk, which an omitted key would keep: write them empty.
    const { id } = await up({
      uuid: FIXTURE.pvDirect.uuid,
      pv: { bootloader: "pygrub", kernel: "", ramdisk: "" },
    });
    const boot = await lastBoot(id);
    expect([boot.kernelSource, boot.kernel, boot.ramdisk]).toEqual([
      "autodetected",
      "/boot/vmlinuz-6.1.0-18-amd64",
      "/boot/initrd.img-6.1.0-18-amd64",
    ]);
  });

  it('"[…] or an autodetected kernel is used if nothing is specified and autodetection is possible." (not possible: the start fails with BOOTLOADER_FAILED)', async () => {
    await control("setGuestDisk", { uuid: FIXTURE.pvDirect.uuid, userdevice: "0", menuLst: null, files: [] });
    const error = await failure(up({ uuid: FIXTURE.pvDirect.uuid, pv: { bootloader: "pygrub" } }));
    expect([...xapiError(error), await powerState(error.id)]).toEqual([
      "BOOTLOADER_FAILED",
      FIXTURE.pvDirect.ref,
      "Unable to find partition containing kernel",
      "Halted",
    ]);
  });

  it('"PV/args is appended to the kernel command line, no matter which mechanism is used for finding the kernel."', async () => {
    const args = "console=hvc0 loglevel=3";
    const cmdlines: Record<string, string | null> = {};
    // menu.lst
    const menu = await up({ template: PV_TEMPLATE, pv: { bootloader: "pygrub", args } });
    cmdlines[(await lastBoot(menu.id)).kernelSource ?? "?"] = (await lastBoot(menu.id)).cmdline;
    // specified, then autodetected, on pvdirect-01's disk without a menu.lst
    await control("setGuestDisk", { uuid: FIXTURE.pvDirect.uuid, userdevice: "0", menuLst: null });
    const spec = await up({
      uuid: FIXTURE.pvDirect.uuid,
      pv: { bootloader: "pygrub", kernel: "/boot/vmlinuz-6.1.0-17-amd64", args },
    });
    cmdlines[(await lastBoot(spec.id)).kernelSource ?? "?"] = (await lastBoot(spec.id)).cmdline;
    const auto = await change(spec.id, spec.outs, {
      uuid: FIXTURE.pvDirect.uuid,
      pv: { bootloader: "pygrub", kernel: "", ramdisk: "", args },
    });
    expect(flat(auto).observedPowerState).toBe("Running");
    cmdlines[(await lastBoot(spec.id)).kernelSource ?? "?"] = (await lastBoot(spec.id)).cmdline;
    // direct boot from the control domain
    const direct = await change(spec.id, auto, {
      uuid: FIXTURE.pvDirect.uuid,
      pv: { kernel: "/var/lib/xcp/guest/vmlinuz-6.1", args },
    });
    expect(flat(direct).observedPowerState).toBe("Running");
    cmdlines[(await lastBoot(spec.id)).kernelSource ?? "?"] = (await lastBoot(spec.id)).cmdline;
    // xenopsd's formula "<config args> <PV_legacy_args> <PV_args>" (bootloader.ml); direct boot: PV_args.
    expect(cmdlines).toEqual({
      "menu.lst": `${MENU_ARGS}  ${args}`,
      specified: `  ${args}`,
      autodetected: `  ${args}`,
      dom0: args,
    });
  });
});

//////////////////////////////////////////////////////////////////////
// ¶5

describe("seed ¶5: empty bootloader", () => {
  it('"If PV/bootloader is empty but PV/kernel is specified, then the kernel and ramdisk values will be treated as paths within the control domain."', async () => {
    const pv = {
      kernel: "/var/lib/xcp/guest/vmlinuz-6.6",
      ramdisk: "/var/lib/xcp/guest/initrd-6.6.img",
      args: "root=/dev/xvda1",
    };
    const { id } = await up({ uuid: FIXTURE.pvDirect.uuid, pv });
    const boot = await lastBoot(id);
    expect([
      boot.method,
      boot.kernelSource,
      boot.kernel,
      boot.ramdisk,
      boot.cmdline,
      boot.bootloader,
    ]).toEqual(["pv-direct", "dom0", pv.kernel, pv.ramdisk, pv.args, null]);
  });

  it('"If PV/bootloader is empty but PV/kernel is specified, […] paths within the control domain." (a kernel outside XAPI\'s allowed directory fails the start with INVALID_VALUE; the VM stays Halted)', async () => {
    const error = await failure(up({ uuid: FIXTURE.pvDirect.uuid, pv: { kernel: "/boot/vmlinuz" } }));
    expect([...xapiError(error), await powerState(error.id)]).toEqual([
      "INVALID_VALUE",
      "kernel",
      "/boot/vmlinuz",
      "Is not in any of the allowed kernel directories: [/var/lib/xcp/guest/]",
      "Halted",
    ]);
  });

  it("\"If both PV/bootloader and PV/kernel are empty, then the behaviour is as if PV/bootloader was specified as ``pygrub''.\"", async () => {
    // Real XAPI (and xapi-sim, which follows it) would try a direct boot of an empty kernel path:
    const ref = await xapi("VM.get_by_uuid", FIXTURE.pvDirect.uuid);
    await xapi("VM.set_PV_kernel", ref, "");
    const raw = await xapi("VM.start", ref, false, false).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(raw instanceof XapiFault ? [raw.code, ...raw.params] : raw).toEqual([
      "INVALID_VALUE",
      "kernel",
      "",
      "File does not exist",
    ]);
    // … so the provider writes "pygrub" itself: the user gets the seed's behaviour.
    const { id, outs } = await up({ uuid: FIXTURE.pvDirect.uuid, pv: { args: "quiet" } });
    const boot = await lastBoot(id);
    expect([
      (flat(outs).effectiveBoot as { pv: { bootloader: string } }).pv.bootloader,
      boot.bootloader?.name,
      boot.kernelSource,
      boot.cmdline,
    ]).toEqual(["pygrub", "pygrub", "menu.lst", `${MENU_ARGS}  quiet`]);
  });

  it("\"If both PV/bootloader and PV/kernel are empty, then the behaviour is as if PV/bootloader was specified as ``pygrub''.\" (pv: {} on a VM without a bootloader or kernel: pygrub is written)", async () => {
    const ref = await xapi("VM.get_by_uuid", FIXTURE.pvDirect.uuid);
    await xapi("VM.set_PV_kernel", ref, "");
    const { id, outs } = await up({ uuid: FIXTURE.pvDirect.uuid, pv: {} });
    expect([calls(outs).filter((c) => c.includes(".set_")), (await lastBoot(id)).bootloader?.name]).toEqual([
      ["VM.set_PV_bootloader"],
      "pygrub",
    ]);
  });

  it("\"If both PV/bootloader and PV/kernel are empty, then the behaviour is as if PV/bootloader was specified as ``pygrub''.\" (not both empty: a VM with a direct kernel keeps it, nothing is written for the bootloader)", async () => {
    const { id, outs } = await up({ uuid: FIXTURE.pvDirect.uuid, pv: { args: "quiet" } });
    const boot = await lastBoot(id);
    expect([calls(outs).filter((c) => c.includes(".set_")), boot.method, boot.kernel, boot.cmdline]).toEqual([
      ["VM.set_PV_args"],
      "pv-direct",
      "/var/lib/xcp/guest/vmlinuz-6.1",
      "quiet",
    ]);
  });
});

//////////////////////////////////////////////////////////////////////
// pv declares only what is written

describe("a PV field the user does not write keeps the VM's or template's value", () => {
  it('pv: { bootloader: "pygrub" } on "Generic PV (pygrub)" keeps its PV_args "console=hvc0": no setter for PV_args, PV_kernel or PV_ramdisk', async () => {
    const { id, outs } = await up({ template: PV_TEMPLATE, pv: { bootloader: "pygrub" } });
    const record = (await xapi("VM.get_record", await xapi("VM.get_by_uuid", id))) as Bag;
    const boot = await lastBoot(id);
    expect([
      calls(outs).filter((c) => c.startsWith("VM.set_PV_")),
      [record.PV_args, record.PV_kernel, record.PV_ramdisk],
      boot.cmdline,
    ]).toEqual([[], ["console=hvc0", "", ""], `${MENU_ARGS}  console=hvc0`]);
  });

  it("a refresh of that VM gives back the declared block, so the next preview has no change", async () => {
    const declared = { template: PV_TEMPLATE, pv: { bootloader: "pygrub" } };
    const { id, outs } = await up(declared);
    const refreshed = await impl.read(id, outs);
    const diff = await impl.diff(
      id,
      refreshed.props ?? {},
      (await impl.check(refreshed.inputs ?? {}, declared)).inputs ?? {},
    );
    expect([refreshed.inputs?.pv, diff.changes]).toEqual([{ bootloader: "pygrub" }, false]);
  });
});

//////////////////////////////////////////////////////////////////////
// ¶6

describe("seed ¶6: HVM", () => {
  it('"When using HVM booting, HVM/boot_policy and HVM/boot_params specify the boot handling."', async () => {
    const { id } = await up({
      template: HVM_TEMPLATE,
      hvm: { bootParams: { order: "dc", firmware: "uefi" } },
    });
    const boot = await lastBoot(id);
    expect([boot.HVM_boot_policy, boot.HVM_boot_params, boot.qemuBootOrder, boot.firmware]).toEqual([
      "BIOS order",
      { order: "dc", firmware: "uefi" },
      "dc",
      "uefi",
    ]);
  });

  it("\"Only one policy is currently defined: ``BIOS order''.\"", async () => {
    const { id } = await up({ uuid: FIXTURE.pvDirect.uuid, hvm: { bootParams: { order: "c" } } });
    const record = (await xapi("VM.get_record", await xapi("VM.get_by_uuid", id))) as Bag;
    expect([record.HVM_boot_policy, (await lastBoot(id)).HVM_boot_policy]).toEqual([
      "BIOS order",
      "BIOS order",
    ]);
  });

  it("\"In this case, HVM/boot_params should contain one key-value pair ``order'' = ``N'' where N is the string that will be passed to QEMU.\"", async () => {
    const { id, outs } = await up({ template: HVM_TEMPLATE, hvm: { bootParams: { order: "cd" } } });
    const first = await lastBoot(id);
    // A new order on the running VM reaches QEMU through the planned restart.
    const after = await change(id, outs, { template: HVM_TEMPLATE, hvm: { bootParams: { order: "ndc" } } });
    const second = await lastBoot(id);
    expect([
      first.qemuBootOrder,
      first.bootDevice?.kind,
      calls(after),
      second.qemuBootOrder,
      second.bootDevice?.kind,
    ]).toEqual([
      "cd",
      "disk",
      // The change is noted on the VM as pending first, and the note removed once the reboot applied it.
      ["VM.add_to_other_config", "VM.set_HVM_boot_params", "VM.clean_reboot", "VM.remove_from_other_config"],
      "ndc",
      "network",
    ]);
  });

  it("\"[…] ``order'' = ``N'' where N is the string that will be passed to QEMU.\" (no order: XAPI passes \"cd\")", async () => {
    await control("setFields", { uuid: FIXTURE.legacy.uuid, fields: { HVM_boot_params: {} } });
    const { id } = await up({ uuid: FIXTURE.legacy.uuid });
    expect((await lastBoot(id)).qemuBootOrder).toBe("cd");
  });
});

//////////////////////////////////////////////////////////////////////
// bootableDisks, the Vm resource's control of VBD.bootable

describe("bootableDisks is a boot-config change like any other", () => {
  it("a changed bootableDisks on a running VM is applied by the planned restart", async () => {
    const { id, outs } = await up({
      uuid: FIXTURE.pv.uuid,
      pv: { bootloader: "pygrub" },
      bootableDisks: ["0"],
      policy: { shutdown: "hard" },
    });
    const after = await change(id, outs, {
      uuid: FIXTURE.pv.uuid,
      pv: { bootloader: "pygrub" },
      bootableDisks: ["0", "1"],
      policy: { shutdown: "hard" },
    });
    const boot = await lastBoot(id);
    expect([
      calls(after),
      boot.disks.map((d) => d.userdevice),
      (flat(after).effectiveBoot as Bag).bootableDisks,
    ]).toEqual([
      ["VM.add_to_other_config", "VBD.set_bootable", "VM.hard_reboot", "VM.remove_from_other_config"],
      ["0", "1"],
      ["0", "1"],
    ]);
  });

  it("under policy next-boot the change is set and reported pending until the next reboot", async () => {
    const policy = { bootChanges: "next-boot" };
    const pv = { bootloader: "pygrub", args: "console=hvc0" };
    const { id, outs } = await up({ uuid: FIXTURE.stubborn.uuid, pv, policy });
    const after = await change(id, outs, {
      uuid: FIXTURE.stubborn.uuid,
      pv,
      bootableDisks: [],
      policy,
    });
    const record = await control<{ pendingBootChange: boolean; lastBoot: LastBoot }>("bootRecord", {
      uuid: id,
    });
    expect([
      calls(after),
      flat(after).pendingBootChanges,
      record.pendingBootChange,
      record.lastBoot.disks.length,
      // The pending change is also noted on the VM (other_config), where a preview sees it.
    ]).toEqual([["VM.add_to_other_config", "VBD.set_bootable"], ["bootableDisks"], true, 1]);
  });

  it("a refresh reads the bootable flags back, and the next diff plans the change back", async () => {
    const declared = { uuid: FIXTURE.pvDirect.uuid, bootableDisks: ["0"], powerState: "Halted" };
    const { id, outs } = await up(declared);
    // Someone marks the root disk non-bootable outside Pulumi.
    const [vbd] = (await xapi("VM.get_VBDs", await xapi("VM.get_by_uuid", id))) as string[];
    await xapi("VBD.set_bootable", vbd, false);
    const refreshed = await impl.read(id, outs);
    const diff = await impl.diff(
      id,
      refreshed.props ?? {},
      (await impl.check(refreshed.inputs ?? {}, declared)).inputs ?? {},
    );
    expect([
      refreshed.inputs?.bootableDisks,
      (flat(refreshed.props ?? {}).effectiveBoot as Bag | undefined)?.bootableDisks,
      diff.changes,
    ]).toEqual([[], [], true]);
  });

  it("a userdevice the VM does not have fails the plan before any call", async () => {
    const error = await failure(up({ uuid: FIXTURE.pvDirect.uuid, bootableDisks: ["7"] }));
    const cause = error.cause as { code?: string; message?: string };
    expect([cause.code, calls(error.properties)]).toEqual(["INVALID_DECLARED_BOOT", []]);
    expect(cause.message).toContain(
      'Unknown disk: expected the userdevice of one of the VM\'s disks ("0"), received "7".',
    );
  });
});

/** The user-declared keys of a recorded output bag (what the next `pulumi up` declares again). */
function pickInputs(props: Bag): Bag {
  const out: Bag = {};
  for (const key of impl.DECLARED_KEYS) if (props[key] !== undefined) out[key] = props[key];
  // `uuid` is the id of a created VM; only an adopted VM declares it.
  if (flat(props).adopted !== true) delete out.uuid;
  return out;
}
