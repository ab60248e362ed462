/**
 * The initial pool: one pool, two hosts (master + member), their control domains, two default
 * templates and a few guests in every power state. UUIDs and refs are fixed so tests, demos and
 * `reset` can rely on them.
 */
import { type BootDiskInput, bootOutcome, bootRecordOf } from "./boot";
import { guestReport } from "./guest";
import { HOST_MEMORY_BYTES, hostMac } from "./pool-objects";
import {
  defaultHostMetricsRecord,
  defaultPbdRecord,
  defaultPifMetricsRecord,
  defaultPifRecord,
  type HostMetricsRecord,
  type PbdRecord,
  type PifMetricsRecord,
  type PifRecord,
} from "./pool-records";
import { PROFILES, type ProfileName } from "./profiles";
import {
  defaultHostRecord,
  defaultNetworkRecord,
  defaultPoolRecord,
  defaultSrRecord,
  defaultVbdRecord,
  defaultVdiRecord,
  defaultVifRecord,
  defaultVmMetricsRecord,
  defaultVmRecord,
  type GuestMetricsRecord,
  type NetworkRecord,
  type SrRecord,
  type VbdRecord,
  type VifRecord,
  type VmMetricsRecord,
  type VmRecord,
  xapiDate,
} from "./records";
import type { GuestDiskContent, GuestSettings, SimSnapshot, VdiEntry, VmEntry } from "./snapshot";
import { NULL_REF } from "./vocabulary";

/** Fixed identities of the fixture's objects. */
export const FIXTURE = {
  pool: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000001",
    uuid: "5a1f0000-0000-4000-8000-0000000000a1",
  },
  master: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000011",
    uuid: "5a1f0000-0000-4000-8000-0000000000b1",
  },
  member: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000012",
    uuid: "5a1f0000-0000-4000-8000-0000000000b2",
  },
  dom0Master: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000021",
    uuid: "5a1f0000-0000-4000-8000-0000000000c1",
  },
  dom0Member: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000022",
    uuid: "5a1f0000-0000-4000-8000-0000000000c2",
  },
  /** "Other install media": HVM, BIOS order, order "cd", default template. */
  hvmTemplate: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000031",
    uuid: "5a1f0000-0000-4000-8000-0000000000d1",
  },
  /** "Generic PV (pygrub)": PV, PV_bootloader "pygrub", default template. */
  pvTemplate: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000032",
    uuid: "5a1f0000-0000-4000-8000-0000000000d2",
  },
  /** "web-01": Running HVM (BIOS, order "c") with PV drivers, on the master. */
  web: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000041",
    uuid: "5a1f0000-0000-4000-8000-0000000000e1",
  },
  /** "db-01": Halted HVM (UEFI) with PV drivers. */
  db: { ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000042", uuid: "5a1f0000-0000-4000-8000-0000000000e2" },
  /** "legacy-01": Halted HVM without PV drivers (clean ops → VM_LACKS_FEATURE once running). */
  legacy: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000043",
    uuid: "5a1f0000-0000-4000-8000-0000000000e3",
  },
  /** "batch-01": Suspended HVM with PV drivers. */
  batch: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000044",
    uuid: "5a1f0000-0000-4000-8000-0000000000e4",
  },
  /** "pv-01": Paused PV guest (pygrub), on the member. */
  pv: { ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000045", uuid: "5a1f0000-0000-4000-8000-0000000000e5" },
  /** "pvdirect-01": Halted PV guest booting a dom0 kernel directly. */
  pvDirect: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000046",
    uuid: "5a1f0000-0000-4000-8000-0000000000e6",
  },
  /** "stubborn-01": Running PV guest that ignores clean shutdown requests (→ VM_SHUTDOWN_TIMEOUT). */
  stubborn: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000047",
    uuid: "5a1f0000-0000-4000-8000-0000000000e7",
  },
  /** "Local storage" on the master: every fixture disk; the pool's default SR (provision uses it). */
  localSr: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000051",
    uuid: "5a1f0000-0000-4000-8000-0000000000f1",
  },
  /** "ISO library": the install ISO in legacy-01's CD drive. */
  isoSr: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000052",
    uuid: "5a1f0000-0000-4000-8000-0000000000f2",
  },
  /** "Local storage" on the member: its suspend-image SR (a VM resident there suspends to it). */
  memberSr: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000053",
    uuid: "5a1f0000-0000-4000-8000-0000000000f3",
  },
  /** batch-01's suspend image: a VDI of type "suspend" on the master's local SR. */
  suspendImage: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000091",
    uuid: "5a1f0000-0000-4000-8000-000000000092",
  },
  /** "Pool-wide network associated with eth0": the management network every guest's VIF is on. */
  network: {
    ref: "OpaqueRef:5a1f0000-0000-4000-8000-000000000061",
    uuid: "5a1f0000-0000-4000-8000-0000000000a3",
  },
} as const;

/**
 * The fixed ref of the N-th fixture object of a kind (N from 1, in fixture order): VIFs `…10NN` (uuid
 * `…11NN`), VM_metrics `…12NN` (`…13NN`), VM_guest_metrics `…14NN` (`…15NN`), host_metrics `…16NN`
 * (`…17NN`), PIFs `…18NN` (`…19NN`), PIF_metrics `…20NN` (`…21NN`), PBDs `…22NN` (`…23NN`).
 */
export function fixtureId(
  kind: "vif" | "metrics" | "guestMetrics" | "hostMetrics" | "pif" | "pifMetrics" | "pbd",
  n: number,
): { ref: string; uuid: string } {
  const base = { vif: 10, metrics: 12, guestMetrics: 14, hostMetrics: 16, pif: 18, pifMetrics: 20, pbd: 22 }[
    kind
  ];
  const nn = String(n).padStart(2, "0");
  return {
    ref: `OpaqueRef:5a1f0000-0000-4000-8000-00000000${base}${nn}`,
    uuid: `5a1f0000-0000-4000-8000-00000000${base + 1}${nn}`,
  };
}

/**
 * The GRUB legacy menu.lst on the fixture's Debian disks (the PV template's and the PV guests' root
 * disks): default entry 0, kernel 6.1.0-18 with `root=/dev/xvda1 ro`.
 */
export const DEBIAN_MENU_LST = `default 0
timeout 5

title Debian GNU/Linux 12, kernel 6.1.0-18-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-18-amd64 root=/dev/xvda1 ro
initrd /boot/initrd.img-6.1.0-18-amd64

title Debian GNU/Linux 12, kernel 6.1.0-17-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-17-amd64 root=/dev/xvda1 ro
initrd /boot/initrd.img-6.1.0-17-amd64
`;

/** The kernels and initrds on the fixture's Debian disks. */
export const DEBIAN_FILES: readonly string[] = [
  "/boot/vmlinuz-6.1.0-17-amd64",
  "/boot/initrd.img-6.1.0-17-amd64",
  "/boot/vmlinuz-6.1.0-18-amd64",
  "/boot/initrd.img-6.1.0-18-amd64",
];

/** A Debian root disk's content (menu.lst present). */
function debianDisk(): GuestDiskContent {
  return { menuLst: DEBIAN_MENU_LST, files: [...DEBIAN_FILES] };
}

/** A disk with a filesystem but nothing a bootloader uses (data disks, HVM disks, blank disks). */
function plainDisk(): GuestDiskContent {
  return { menuLst: null, files: [] };
}

/** The provisioning description of the HVM template: one bootable 10 GiB system disk. */
export const HVM_TEMPLATE_DISKS =
  '<provision><disk device="0" size="10737418240" sr="" bootable="true" type="system"/></provision>';

const GiB = 1024 * 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

const HVM_PLATFORM = {
  viridian: "true",
  acpi: "1",
  apic: "true",
  pae: "true",
  nx: "true",
  "device-model": "qemu-upstream-compat",
};

function guest(pvDrivers: boolean, ignoresCleanShutdown = false): GuestSettings {
  return { pvDrivers, ignoresCleanShutdown };
}

/**
 * Builds the fixture for the given host addresses and profile. `nowMs` stamps the running guests' boot
 * time. Under a profile without domain types every VM's (hidden) domain_type is `unspecified`.
 */
export function createFixture(o: {
  masterAddress: string;
  memberAddress: string;
  nowMs: number;
  profile?: ProfileName;
}): SimSnapshot {
  const profile = PROFILES[o.profile ?? "current"];
  let nextDomid = 1;
  const bootedAt = o.nowMs - DAY_MS;
  const entries: VmEntry[] = [];
  const liveOnes: { entry: VmEntry; via: string }[] = [];

  const add = (
    id: { ref: string; uuid: string },
    record: Partial<VmRecord> & { name_label: string },
    g: GuestSettings,
    live?: { host: string; via?: string },
  ): void => {
    const r = defaultVmRecord({ ...record, uuid: id.uuid });
    if (!profile.domainType) r.domain_type = "unspecified";
    const entry: VmEntry = {
      ref: id.ref,
      record: r,
      sim: { guest: g, bootCount: 0, lastBoot: null, startedAtMs: null },
    };
    if (live && !r.is_control_domain) {
      // A guest that is live (or suspended) booted once from its current config (recorded below, with its disks).
      const domid = nextDomid++;
      entry.sim.bootCount = 1;
      entry.sim.startedAtMs = bootedAt;
      if (r.power_state !== "Suspended") {
        r.domid = domid;
        r.resident_on = live.host;
      } else {
        r.domid = -1;
      }
      liveOnes.push({ entry, via: live.via ?? "start" });
      (entry.sim as { bootDomid?: number }).bootDomid = domid;
    }
    entries.push(entry);
  };

  const dom0 = (id: { ref: string; uuid: string }, hostName: string, hostRef: string): void =>
    add(
      id,
      {
        name_label: `Control domain on host: ${hostName}`,
        name_description: "The domain which manages physical devices and manages other domains",
        power_state: "Running",
        is_control_domain: true,
        domid: 0,
        resident_on: hostRef,
        domain_type: "pv",
        memory_static_max: 4 * GiB,
        memory_dynamic_max: 4 * GiB,
        memory_dynamic_min: 4 * GiB,
        memory_static_min: 4 * GiB,
        VCPUs_max: 8,
        VCPUs_at_startup: 8,
        other_config: { storage_driver_domain: id.ref, is_system_domain: "true" },
      },
      guest(true),
    );

  dom0(FIXTURE.dom0Master, "xcp-sim-1", FIXTURE.master.ref);
  dom0(FIXTURE.dom0Member, "xcp-sim-2", FIXTURE.member.ref);

  add(
    FIXTURE.hvmTemplate,
    {
      name_label: "Other install media",
      name_description:
        "Template which allows VM installation from install media. This template is for installing an OS from ISO or network.",
      is_a_template: true,
      is_default_template: true,
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "cd" },
      platform: { ...HVM_PLATFORM },
      other_config: {
        default_template: "true",
        install_methods: "cdrom",
        instant: "true",
        disks: HVM_TEMPLATE_DISKS,
      },
      recommendations:
        '<restrictions><restriction field="memory-static-max" max="137438953472" /><restriction field="vcpus-max" max="32" /></restrictions>',
    },
    guest(true),
  );
  add(
    FIXTURE.pvTemplate,
    {
      name_label: "Generic PV (pygrub)",
      name_description: "Template for a paravirtualised guest that boots its own kernel through pygrub.",
      is_a_template: true,
      is_default_template: true,
      domain_type: "pv",
      PV_bootloader: "pygrub",
      PV_args: "console=hvc0",
      other_config: { default_template: "true", linux_template: "true" },
    },
    guest(true),
  );

  add(
    FIXTURE.web,
    {
      name_label: "web-01",
      name_description: "Running HVM guest with PV drivers",
      power_state: "Running",
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "c", firmware: "bios" },
      platform: { ...HVM_PLATFORM },
    },
    guest(true),
    { host: FIXTURE.master.ref },
  );
  add(
    FIXTURE.db,
    {
      name_label: "db-01",
      name_description: "Halted UEFI HVM guest with PV drivers",
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "c", firmware: "uefi" },
      platform: { ...HVM_PLATFORM, secureboot: "false" },
    },
    guest(true),
  );
  add(
    FIXTURE.legacy,
    {
      name_label: "legacy-01",
      name_description: "Halted HVM guest without PV drivers",
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "dc" },
      platform: { ...HVM_PLATFORM, viridian: "false" },
    },
    guest(false),
  );
  add(
    FIXTURE.batch,
    {
      name_label: "batch-01",
      name_description: "Suspended HVM guest with PV drivers",
      power_state: "Suspended",
      domain_type: "hvm",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "c" },
      platform: { ...HVM_PLATFORM },
      suspend_VDI: "OpaqueRef:5a1f0000-0000-4000-8000-000000000091",
    },
    guest(true),
    { host: NULL_REF },
  );
  add(
    FIXTURE.pv,
    {
      name_label: "pv-01",
      name_description: "Paused PV guest (pygrub)",
      power_state: "Paused",
      domain_type: "pv",
      PV_bootloader: "pygrub",
      PV_args: "console=hvc0 quiet",
    },
    guest(true),
    { host: FIXTURE.member.ref },
  );
  add(
    FIXTURE.pvDirect,
    {
      name_label: "pvdirect-01",
      name_description: "Halted PV guest booting a dom0 kernel directly",
      domain_type: "pv",
      PV_kernel: "/var/lib/xcp/guest/vmlinuz-6.1",
      PV_ramdisk: "/var/lib/xcp/guest/initrd-6.1.img",
      PV_args: "root=/dev/xvda1 ro console=hvc0",
    },
    guest(true),
  );
  add(
    FIXTURE.stubborn,
    {
      name_label: "stubborn-01",
      name_description: "Running PV guest that ignores clean shutdown requests",
      power_state: "Running",
      domain_type: "pv",
      PV_bootloader: "pygrub",
      PV_args: "console=hvc0",
    },
    guest(true, true),
    { host: FIXTURE.master.ref },
  );

  // ------------------------------------------------------------ storage (issue #7)
  const srs: { ref: string; record: SrRecord }[] = [
    {
      ref: FIXTURE.localSr.ref,
      record: defaultSrRecord({
        uuid: FIXTURE.localSr.uuid,
        name_label: "Local storage",
        name_description: "Local ext storage on xcp-sim-1",
        type: "ext",
        content_type: "user",
      }),
    },
    {
      ref: FIXTURE.isoSr.ref,
      record: defaultSrRecord({
        uuid: FIXTURE.isoSr.uuid,
        name_label: "ISO library",
        name_description: "Install media",
        type: "iso",
        content_type: "iso",
        shared: true,
        physical_size: 0,
      }),
    },
    {
      ref: FIXTURE.memberSr.ref,
      record: defaultSrRecord({
        uuid: FIXTURE.memberSr.uuid,
        name_label: "Local storage",
        name_description: "Local ext storage on xcp-sim-2",
        type: "ext",
        content_type: "user",
      }),
    },
  ];
  const vdis: VdiEntry[] = [];
  const vbds: { ref: string; record: VbdRecord }[] = [];
  let nextDisk = 1;
  const hex = (n: number): string => String(n).padStart(2, "0");
  /** Adds a VBD at `userdevice` of `vm`: a disk with a new VDI, or a CD drive (empty, or with `iso`). */
  const disk = (
    vm: { ref: string },
    userdevice: string,
    o: {
      name?: string;
      bootable?: boolean;
      sizeGiB?: number;
      content?: GuestDiskContent;
      cd?: true;
      iso?: string;
    },
  ): void => {
    const n = nextDisk++;
    let vdiRef = NULL_REF;
    if (o.cd === undefined || o.iso !== undefined) {
      vdiRef = `OpaqueRef:5a1f0000-0000-4000-8000-0000000007${hex(n)}`;
      vdis.push({
        ref: vdiRef,
        record: defaultVdiRecord({
          uuid: `5a1f0000-0000-4000-8000-0000000008${hex(n)}`,
          name_label: o.iso ?? o.name ?? `disk ${n}`,
          SR: o.iso !== undefined ? FIXTURE.isoSr.ref : FIXTURE.localSr.ref,
          virtual_size: o.iso !== undefined ? 650 * 1024 * 1024 : (o.sizeGiB ?? 10) * GiB,
          physical_utilisation: o.iso !== undefined ? 650 * 1024 * 1024 : ((o.sizeGiB ?? 10) * GiB) / 4,
          type: o.iso !== undefined ? "user" : "system",
          read_only: o.iso !== undefined,
          sharable: o.iso !== undefined,
          location: o.iso ?? `5a1f0000-0000-4000-8000-0000000008${hex(n)}`,
        }),
        content: o.content ?? plainDisk(),
      });
    }
    vbds.push({
      ref: `OpaqueRef:5a1f0000-0000-4000-8000-0000000005${hex(n)}`,
      record: defaultVbdRecord({
        uuid: `5a1f0000-0000-4000-8000-0000000006${hex(n)}`,
        VM: vm.ref,
        VDI: vdiRef,
        userdevice,
        bootable: o.bootable ?? false,
        type: o.cd ? "CD" : "Disk",
        mode: o.cd ? "RO" : "RW",
        empty: o.cd === true && o.iso === undefined,
        unpluggable: o.cd === true,
      }),
    });
  };

  disk(FIXTURE.hvmTemplate, "3", { cd: true });
  disk(FIXTURE.pvTemplate, "0", { name: "Generic PV root", bootable: true, content: debianDisk() });
  disk(FIXTURE.web, "0", { name: "web-01 root", bootable: true, sizeGiB: 20 });
  disk(FIXTURE.web, "1", { name: "web-01 data", sizeGiB: 50 });
  disk(FIXTURE.web, "3", { cd: true });
  disk(FIXTURE.db, "0", { name: "db-01 root", bootable: true, sizeGiB: 20 });
  disk(FIXTURE.db, "1", { name: "db-01 data", sizeGiB: 100 });
  disk(FIXTURE.legacy, "0", { name: "legacy-01 root", bootable: true });
  disk(FIXTURE.legacy, "3", { cd: true, iso: "debian-12.5.0-amd64-netinst.iso" });
  disk(FIXTURE.batch, "0", { name: "batch-01 root", bootable: true });
  disk(FIXTURE.pv, "0", { name: "pv-01 root", bootable: true, content: debianDisk() });
  disk(FIXTURE.pv, "1", { name: "pv-01 data", sizeGiB: 20 });
  disk(FIXTURE.pv, "3", { cd: true });
  disk(FIXTURE.pvDirect, "0", { name: "pvdirect-01 root", bootable: true, content: debianDisk() });
  disk(FIXTURE.stubborn, "0", { name: "stubborn-01 root", bootable: true, content: debianDisk() });

  // batch-01 was suspended to the master's local SR: its suspend image (pool-objects.ts `createSuspendImage`).
  const batch = entries.find((v) => v.ref === FIXTURE.batch.ref)?.record;
  if (batch !== undefined) {
    const size = Math.floor(batch.memory_static_max * 1.2 * 1.05) + 104_857_600;
    vdis.push({
      ref: FIXTURE.suspendImage.ref,
      record: defaultVdiRecord({
        uuid: FIXTURE.suspendImage.uuid,
        name_label: "Suspend image",
        name_description: "Suspend image",
        SR: FIXTURE.localSr.ref,
        virtual_size: size,
        physical_utilisation: size,
        type: "suspend",
        sm_config: { vmhint: batch.uuid, initial_allocation: String(size) },
      }),
      content: plainDisk(),
    });
  }
  for (const entry of entries) {
    entry.record.VBDs = vbds.filter((b) => b.record.VM === entry.ref).map((b) => b.ref);
  }
  for (const vdi of vdis) vdi.record.VBDs = vbds.filter((b) => b.record.VDI === vdi.ref).map((b) => b.ref);
  for (const sr of srs) sr.record.VDIs = vdis.filter((v) => v.record.SR === sr.ref).map((v) => v.ref);

  // The boot each live (or suspended) guest did, computed as a start would (xapi-sim's boot model).
  for (const { entry, via } of liveOnes) {
    const srUuid = (ref: string) => srs.find((sr) => sr.ref === ref)?.record.uuid ?? "no-sr";
    const disks: BootDiskInput[] = vbds
      .filter((b) => b.record.VM === entry.ref)
      .map(({ record: b }) => {
        const vdi = vdis.find((v) => v.ref === b.VDI);
        return {
          userdevice: b.userdevice,
          device: b.device,
          type: b.type,
          bootable: b.bootable,
          empty: b.empty,
          vdi: vdi?.record.uuid ?? null,
          path: vdi ? `/dev/sm/backend/${srUuid(vdi.record.SR)}/${vdi.record.uuid}` : null,
          content: vdi?.content ?? null,
        };
      });
    const result = bootOutcome(entry.record, entry.ref, disks);
    if (!result.ok)
      throw new Error(`fixture VM ${entry.record.name_label} cannot boot: ${result.error.message}`);
    const sim = entry.sim as { bootDomid?: number };
    const domid = sim.bootDomid ?? -1;
    delete sim.bootDomid;
    entry.sim.lastBoot = bootRecordOf(entry.record, result.outcome, via, domid, 1, bootedAt);
    if (entry.record.power_state !== "Suspended") {
      for (const vbd of vbds) if (vbd.record.VM === entry.ref) vbd.record.currently_attached = true;
    }
  }

  // ------------------------------------------------------------ networking and metrics
  const networks: { ref: string; record: NetworkRecord }[] = [
    {
      ref: FIXTURE.network.ref,
      record: defaultNetworkRecord({
        uuid: FIXTURE.network.uuid,
        name_label: "Pool-wide network associated with eth0",
        bridge: "xenbr0",
        other_config: { automatic: "true" },
      }),
    },
  ];
  // Every guest has one NIC on the management network; templates and control domains have none.
  const vifs: { ref: string; record: VifRecord }[] = [];
  for (const entry of entries) {
    if (entry.record.is_a_template || entry.record.is_control_domain) continue;
    const id = fixtureId("vif", vifs.length + 1);
    vifs.push({
      ref: id.ref,
      record: defaultVifRecord({
        uuid: id.uuid,
        VM: entry.ref,
        network: FIXTURE.network.ref,
        device: "0",
        MAC: `5a:1f:00:00:00:${entry.record.uuid.slice(-2)}`,
        currently_attached: entry.record.power_state === "Running" || entry.record.power_state === "Paused",
      }),
    });
    entry.record.VIFs = [id.ref];
  }
  for (const network of networks) network.record.VIFs = vifs.map((v) => v.ref);
  const vmMetrics: { ref: string; record: VmMetricsRecord }[] = [];
  const guestMetrics: { ref: string; record: GuestMetricsRecord }[] = [];
  for (const [i, entry] of entries.entries()) {
    const r = entry.record;
    const id = fixtureId("metrics", i + 1);
    const booted = r.power_state !== "Halted";
    const domainType = entry.sim.lastBoot?.domain_type ?? (r.is_control_domain ? "pv" : "unspecified");
    vmMetrics.push({
      ref: id.ref,
      record: defaultVmMetricsRecord({
        uuid: id.uuid,
        ...(booted
          ? {
              memory_actual: r.memory_dynamic_max,
              VCPUs_number: r.VCPUs_at_startup,
              start_time: xapiDate(bootedAt),
              last_updated: xapiDate(bootedAt),
              current_domain_type: domainType,
              hvm: domainType === "hvm",
            }
          : {}),
      }),
    });
    r.metrics = id.ref;
    // A guest with PV drivers that has booted (and not been halted since) reported its guest metrics.
    if (booted && !r.is_control_domain && entry.sim.guest.pvDrivers) {
      const gm = fixtureId("guestMetrics", guestMetrics.length + 1);
      const own = vifs.filter((v) => v.record.VM === entry.ref).map((v) => v.record);
      guestMetrics.push({ ref: gm.ref, record: { uuid: gm.uuid, ...guestReport(undefined, own, bootedAt) } });
      r.guest_metrics = gm.ref;
    }
  }

  const infra = hostInfrastructure(o, srs, bootedAt);

  return {
    format: "xapi-sim-state",
    version: 1,
    pool: {
      ref: FIXTURE.pool.ref,
      record: {
        ...defaultPoolRecord({ uuid: FIXTURE.pool.uuid, master: FIXTURE.master.ref }),
        default_SR: FIXTURE.localSr.ref,
        suspend_image_SR: FIXTURE.localSr.ref,
        crash_dump_SR: FIXTURE.localSr.ref,
      },
    },
    hosts: [
      {
        ref: FIXTURE.master.ref,
        record: {
          ...defaultHostRecord({
            uuid: FIXTURE.master.uuid,
            name_label: "xcp-sim-1",
            hostname: "xcp-sim-1",
            address: o.masterAddress,
            controlDomain: FIXTURE.dom0Master.ref,
          }),
          ...infra.hostLinks(FIXTURE.master.ref, FIXTURE.localSr.ref),
        },
      },
      {
        ref: FIXTURE.member.ref,
        record: {
          ...defaultHostRecord({
            uuid: FIXTURE.member.uuid,
            name_label: "xcp-sim-2",
            hostname: "xcp-sim-2",
            address: o.memberAddress,
            controlDomain: FIXTURE.dom0Member.ref,
          }),
          ...infra.hostLinks(FIXTURE.member.ref, FIXTURE.memberSr.ref),
        },
      },
    ],
    vms: entries,
    srs,
    vdis,
    vbds,
    networks,
    vifs,
    vmMetrics,
    guestMetrics,
    hostMetrics: infra.hostMetrics,
    pifs: infra.pifs,
    pifMetrics: infra.pifMetrics,
    pbds: infra.pbds,
    nextDomid,
    profile: profile.name,
  };
}

/**
 * The hosts' infrastructure: a host_metrics each, a management PIF each (eth0 on the pool-wide network,
 * with its PIF_metrics), and the PBDs — each local SR on its host, the ISO library on both. `hostLinks`
 * gives a host record the refs to them (metrics, PIFs, PBDs, its local SR for suspend images and crash
 * dumps); memory_free is computed at load from the resident VMs.
 */
function hostInfrastructure(
  o: { masterAddress: string; memberAddress: string },
  srs: { ref: string; record: SrRecord }[],
  bootedAt: number,
) {
  const hosts = [
    {
      ref: FIXTURE.master.ref,
      uuid: FIXTURE.master.uuid,
      address: o.masterAddress,
      localSr: FIXTURE.localSr.ref,
    },
    {
      ref: FIXTURE.member.ref,
      uuid: FIXTURE.member.uuid,
      address: o.memberAddress,
      localSr: FIXTURE.memberSr.ref,
    },
  ];
  const hostMetrics: { ref: string; record: HostMetricsRecord }[] = [];
  const pifs: { ref: string; record: PifRecord }[] = [];
  const pifMetrics: { ref: string; record: PifMetricsRecord }[] = [];
  const pbds: { ref: string; record: PbdRecord }[] = [];
  for (const [i, host] of hosts.entries()) {
    const metrics = fixtureId("hostMetrics", i + 1);
    hostMetrics.push({
      ref: metrics.ref,
      record: defaultHostMetricsRecord({
        uuid: metrics.uuid,
        memory_total: HOST_MEMORY_BYTES,
        memory_free: HOST_MEMORY_BYTES,
        last_updated: xapiDate(bootedAt),
      }),
    });
    const pif = fixtureId("pif", i + 1);
    const nic = fixtureId("pifMetrics", i + 1);
    pifs.push({
      ref: pif.ref,
      record: defaultPifRecord({
        uuid: pif.uuid,
        device: "eth0",
        network: FIXTURE.network.ref,
        host: host.ref,
        MAC: hostMac(host.uuid),
        metrics: nic.ref,
        management: true,
        ip_configuration_mode: "Static",
        IP: host.address,
        netmask: "255.255.255.0",
        properties: { gro: "on" },
        igmp_snooping_status: "disabled",
      }),
    });
    pifMetrics.push({
      ref: nic.ref,
      record: {
        ...defaultPifMetricsRecord({ uuid: nic.uuid }),
        carrier: true,
        vendor_id: "8086",
        vendor_name: "Intel Corporation",
        device_id: "10fb",
        device_name: "82599ES 10-Gigabit SFI/SFP+ Network Connection",
        speed: 10000,
        duplex: true,
        pci_bus_path: "0000:01:00.0",
        last_updated: xapiDate(bootedAt),
      },
    });
  }
  const pbd = (host: string, sr: string, deviceConfig: Record<string, string>): void => {
    const id = fixtureId("pbd", pbds.length + 1);
    pbds.push({
      ref: id.ref,
      record: defaultPbdRecord({
        uuid: id.uuid,
        host,
        SR: sr,
        device_config: deviceConfig,
        currently_attached: true,
      }),
    });
  };
  pbd(FIXTURE.master.ref, FIXTURE.localSr.ref, { device: "/dev/sda3" });
  pbd(FIXTURE.member.ref, FIXTURE.memberSr.ref, { device: "/dev/sda3" });
  for (const host of hosts)
    pbd(host.ref, FIXTURE.isoSr.ref, { location: "/var/opt/xen/iso_import", legacy_mode: "true" });
  for (const sr of srs) sr.record.PBDs = pbds.filter((p) => p.record.SR === sr.ref).map((p) => p.ref);
  return {
    hostMetrics,
    pifs,
    pifMetrics,
    pbds,
    hostLinks: (ref: string, localSr: string) => ({
      metrics: hostMetrics[hosts.findIndex((h) => h.ref === ref)]?.ref ?? "",
      PIFs: pifs.filter((p) => p.record.host === ref).map((p) => p.ref),
      PBDs: pbds.filter((p) => p.record.host === ref).map((p) => p.ref),
      suspend_image_sr: localSr,
      crash_dump_sr: localSr,
    }),
  };
}
