/**
 * Every VM record of the real-host corpus (test/fixtures/xapi-records, see SOURCES.md) round-trips through
 * the provider's gRPC surface (the engine's own dynamic-provider host, test/fixtures/provider-harness.ts)
 * against xapi-sim playing the record's XAPI generation:
 *
 * (a) adopting the VM as it is (check + create) makes no state-changing call but the owner tag;
 * (b) `read` gives back the declaration (pv/hvm, powerState, bootableDisks);
 * (c) a preview of the unchanged declaration plans nothing and its diff reports no change;
 * (d) one boot field changed ⇒ the update makes that setter plus the restart its policy asks (none for a
 *     Halted VM), the preview names the same calls, and a pool older than API 2.10 never sees
 *     `VM.set_domain_type`.
 *
 * Each declaration and each expected call list is written by hand from reading the record.
 *
 * How a record is loaded (one xapi-sim per record, started from a state = the profile's fixture pool plus
 * the record): see {@link stateWith}. The record's values are never edited; what is done around them:
 * - `xapi-db-row` records (XenServer 6.0/6.1 database dumps) are turned into API records mechanically
 *   ({@link apiRecordOfDbRow}): database bookkeeping columns dropped, `__` in a column name → `_`, and
 *   the database encoding of a value decoded by the API type of the field (maps and sets from their
 *   S-expression strings, booleans from "true"/"false"); numbers stay decimal strings, which xapi-sim reads
 *   as XML-RPC int64s;
 * - objects the record names that the corpus does not hold are added as new objects under the refs the
 *   record uses: VDIs behind its VBDs, its VIFs, its VM_guest_metrics; where the corpus has no VBDs for a
 *   record that lists some, stub VBDs ({@link stubVbds}); the fixture's master host takes the ref of the
 *   record's `resident_on` (renamed throughout the fixture);
 * - simulator-only state: the guest has PV drivers exactly when the record has guest metrics; a disk
 *   holds the fixture's Debian root-disk content (a menu.lst and kernels, so a PV bootloader boots at a
 *   reboot), a CD holds nothing.
 *
 * Profile per record: API 1.x (XenServer 6.0, 6.1 report 1.9 and 1.10) → `xenapi-1.0`, the one profile with
 * API major 1; API 2.0–2.9 → `xenserver-7` (API 2.7); 2.10 or later, or a record with `domain_type` →
 * `current`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unpack } from "../provider/resource/stored";
import { type ProfileName, type RunningSimulator, startSimulator } from "../simulator";
import { createModel } from "../simulator/model";
import { defaultVbdRecord, defaultVmRecord } from "../simulator/model/records";
import type { SimSnapshot } from "../simulator/model/snapshot";
import {
  type Bag,
  buildProviderPackage,
  disposeProviderPackage,
  ProviderHost,
  type ProviderPackage,
  serializeProvider,
} from "./fixtures/provider-harness";

const PASSWORD = "corpus-Pw-7d31";
const DIR = join(__dirname, "fixtures", "xapi-records");
const NULL = "OpaqueRef:NULL";
const URN_KEY = "pulumi-xapi:urn";
const urnOf = (name: string) => `urn:pulumi:corpus::roundtrip::pulumi-nodejs:dynamic/xapi:Vm::${name}`;

//////////////////////////////
////   the corpus         ////
//////////////////////////////

type Fields = Record<string, unknown>;

interface CorpusFile {
  format: "xapi-api-record" | "jsonrpc-api-record" | "xmlrpc-transcription" | "xapi-db-row";
  apiVersion: { major: string; minor: string }[] | null;
  record: Fields;
  vbds: Record<string, Fields>;
}

const load = (file: string): CorpusFile => JSON.parse(readFileSync(join(DIR, file), "utf8")) as CorpusFile;

/** Columns of a xapi database row that are the database's bookkeeping, not fields of the object. */
const DB_BOOKKEEPING = new Set(["ref", "_ref", "__ctime", "__mtime"]);

/**
 * Parses the xapi database's S-expression encoding of a map or set: `(('order' 'dc'))`, `('a' 'b')`, `()`.
 * Atoms are single-quoted; `\'` and `\\` are escapes.
 */
function parseSexp(text: string): unknown {
  let i = 0;
  const skip = () => {
    while (text[i] === " ") i++;
  };
  const value = (): unknown => {
    skip();
    if (text[i] === "(") {
      i++;
      const items: unknown[] = [];
      skip();
      while (text[i] !== ")") {
        if (i >= text.length) throw new Error(`unterminated S-expression: ${text}`);
        items.push(value());
        skip();
      }
      i++;
      return items;
    }
    if (text[i] === "'") {
      i++;
      let s = "";
      while (text[i] !== "'") {
        if (i >= text.length) throw new Error(`unterminated atom: ${text}`);
        if (text[i] === "\\") i++;
        s += text[i];
        i++;
      }
      i++;
      return s;
    }
    throw new Error(`not an S-expression at ${i}: ${text}`);
  };
  const parsed = value();
  skip();
  if (i !== text.length) throw new Error(`trailing text in S-expression: ${text}`);
  return parsed;
}

/** A database value decoded to the API type of the field it is stored for (`template`: a value of that type). */
function decodeDbValue(raw: unknown, template: unknown): unknown {
  if (typeof raw !== "string") return raw;
  if (typeof template === "boolean") {
    if (raw !== "true" && raw !== "false") throw new Error(`not a database boolean: ${raw}`);
    return raw === "true";
  }
  if (Array.isArray(template)) return parseSexp(raw) as string[];
  if (typeof template === "object" && template !== null) {
    const pairs = parseSexp(raw) as [string, string][];
    return Object.fromEntries(pairs.map(([k, v]) => [k, v]));
  }
  return raw; // strings, refs, and numbers (decimal strings, read by xapi-sim as XML-RPC int64s)
}

/**
 * A xapi database row as the API record it stores: bookkeeping columns dropped, a column `X__Y` is field
 * `X_Y` (the database joins the parts of a structured field with "__": `PV__bootloader`, `name__label`,
 * `HVM__boot_params`), each value decoded by the type the field has in the API (read off xapi-sim's
 * default record of the class). A column the default record does not know is kept, undecoded.
 */
function apiRecordOfDbRow(row: Fields, defaults: object): Fields {
  const types = defaults as Fields;
  const out: Fields = {};
  for (const [column, raw] of Object.entries(row)) {
    if (DB_BOOKKEEPING.has(column)) continue;
    const field = column.replaceAll("__", "_");
    out[field] = Object.hasOwn(types, field) ? decodeDbValue(raw, types[field]) : raw;
  }
  return out;
}

/** The fields a round trip is about, compared between the corpus record and what xapi-sim holds. */
const BOOT_FIELDS = [
  "uuid",
  "power_state",
  "domain_type",
  "HVM_boot_policy",
  "HVM_boot_params",
  "PV_bootloader",
  "PV_kernel",
  "PV_ramdisk",
  "PV_args",
  "PV_bootloader_args",
  "PV_legacy_args",
];

const VM_DEFAULTS = defaultVmRecord({ uuid: "", name_label: "" });
const VBD_DEFAULTS = defaultVbdRecord({ uuid: "", VM: "", userdevice: "0" });

//////////////////////////////
////   loading            ////
//////////////////////////////

/** A uuid for an object this test adds (not from the corpus): `c0b1a5e0-…-<n>`. */
const addedUuid = (n: number) => `c0b1a5e0-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

/**
 * VBDs for a record the corpus has none for (its `VBDs` names some, so they must exist): the first is the
 * bootable system disk "0", every other an empty CD drive ("3", "4", …). Invented, not read from a host.
 */
function stubVbds(vmRef: string, refs: readonly string[]): Record<string, Fields> {
  return Object.fromEntries(
    refs.map((ref, i) => [
      ref,
      {
        uuid: addedUuid(0x5b0 + i),
        VM: vmRef,
        ...(i === 0
          ? { VDI: "OpaqueRef:c0b1a5e0-0000-4000-8000-stub00disk00", userdevice: "0", type: "Disk" }
          : { VDI: NULL, userdevice: String(i + 2), type: "CD" }),
        bootable: i === 0,
        empty: i !== 0,
        mode: i === 0 ? "RW" : "RO",
      },
    ]),
  );
}

/** The fixture pool of `profile` with the record added (module comment). */
function stateWith(profile: ProfileName, c: RecordCase): SimSnapshot {
  const fixture = createModel({ profile });
  const base = fixture.exportState() as SimSnapshot;
  fixture.close();
  const file = load(c.file);
  const db = file.format === "xapi-db-row";
  const record = db ? apiRecordOfDbRow(file.record, VM_DEFAULTS) : structuredClone(file.record);
  const refs = (record.VBDs as string[] | undefined) ?? [];
  const corpusVbds = Object.keys(file.vbds).length > 0 ? file.vbds : stubVbds(c.vmRef, refs);
  const vbds = Object.entries(corpusVbds).map(([ref, row]) => ({
    ref,
    record: db ? apiRecordOfDbRow(row, VBD_DEFAULTS) : structuredClone(row),
  }));

  // The master host takes the ref the record names (a running VM must be resident on a host of the pool).
  const residentOn = record.resident_on;
  let state = base;
  if (typeof residentOn === "string" && residentOn !== NULL) {
    const master = base.pool.record.master;
    state = JSON.parse(JSON.stringify(base).replaceAll(master, residentOn)) as SimSnapshot;
  }
  const localSr = state.srs.find((s) => s.record.name_label === "Local storage")?.ref ?? "";
  const isoSr = state.srs.find((s) => s.record.name_label === "ISO library")?.ref ?? "";
  const debianDisk = state.vdis.find((v) => v.content.menuLst !== null)?.content;
  if (debianDisk === undefined) throw new Error("the fixture has no Debian disk");
  const network = state.networks[0]?.ref ?? "";
  let n = 0;

  for (const vbd of vbds) {
    const vdi = vbd.record.VDI;
    if (typeof vdi !== "string" || vdi === NULL) continue;
    const disk = vbd.record.type === "Disk";
    state.vdis.push({
      ref: vdi,
      record: {
        uuid: addedUuid(++n),
        name_label: disk ? `disk ${String(vbd.record.userdevice)}` : "install media",
        SR: disk ? localSr : isoSr,
        VBDs: [vbd.ref],
        type: disk ? "system" : "user",
        read_only: !disk,
      } as never,
      content: disk ? structuredClone(debianDisk) : { menuLst: null, files: [] },
    });
  }
  state.vbds.push(...(vbds as never[]));
  const vifs = ((record.VIFs as string[] | undefined) ?? []).map((ref, i) => ({
    ref,
    record: {
      uuid: addedUuid(++n),
      VM: c.vmRef,
      network,
      device: String(i),
      MAC: `5a:1f:c0:b1:a5:${i.toString(16).padStart(2, "0")}`,
    },
  }));
  state.vifs.push(...(vifs as never[]));
  const metrics = record.guest_metrics;
  const hasAgent = typeof metrics === "string" && metrics !== NULL;
  if (hasAgent) state.guestMetrics.push({ ref: metrics, record: { uuid: addedUuid(++n) } as never });
  const live = record.power_state === "Running" || record.power_state === "Paused";
  state.vms.push({
    ref: c.vmRef,
    record: record as never,
    sim: {
      guest: { pvDrivers: hasAgent, ignoresCleanShutdown: false },
      bootCount: 0,
      lastBoot: null,
      startedAtMs: live ? Date.now() - 3_600_000 : null,
    },
  });
  return state;
}

/** The profile for a record's API version (module comment). */
function profileFor(file: CorpusFile): ProfileName {
  const v = file.apiVersion?.[0];
  if (v === undefined) return file.record.domain_type !== undefined ? "current" : "xenserver-7";
  const [major, minor] = [Number(v.major), Number(v.minor)];
  if (major < 2) return "xenapi-1.0";
  return major === 2 && minor < 10 ? "xenserver-7" : "current";
}

//////////////////////////////
////   the cases          ////
//////////////////////////////

interface RecordCase {
  file: string;
  /** The VM's ref in the source (SOURCES.md selector), or one made up where the source does not name it. */
  vmRef: string;
  profile: ProfileName;
  /** The VM as it is, as a user would declare it from the record. */
  declared: Bag;
  /** The declaration with one boot field changed. */
  changed: Bag;
  /** The state-changing calls the update sends to the pool, in order (a refused attempt included). */
  update: string[];
  /** The calls the preview names, when not `update` (it cannot know that a guest will refuse a clean call). */
  previewed?: string[];
  /** The update's `lastCalls`, when not `update` (an escalated call is recorded once, as the call that worked). */
  lastCalls?: string[];
  /** The call that rebuilt the domain with the change (a live VM); absent for a Halted VM. */
  rebuiltBy?: "clean_reboot" | "hard_reboot";
}

/** `PV_args` of the fog-xenserver record (a Debian-installer preseed), copied from the XML-RPC text. */
const PRESEED_ARGS =
  "auto-install/enable=true priority=critical hostname=vm-teste domain=zerticolabs.com " +
  "netcfg/domainname=vm-teste.zerticolabs.com netcfg/choose_interface=eth0 netcfg/get_ipaddress=192.168.1.60 " +
  "netcfg/get_netmask=255.255.0.0 netcfg/get_gateway=192.168.0.1 netcfg/get_nameservers=8.8.8.8 " +
  "netcfg/disable_dhcp=true preseed/url=http://192.168.0.1/vm/seed.cfg  --  quiet console=hvc0";

const CASES: RecordCase[] = [
  {
    file: "xenserver-6.0-pv-eliloader-centos5.json",
    vmRef: "OpaqueRef:115ef997-4078-4d41-1564-a863ed292f25",
    profile: "xenapi-1.0",
    // Halted PV guest whose installer is pending: eliloader, "graphical utf8"; the CD "3" is the bootable VBD.
    declared: {
      uuid: "f436d158-6db8-8b56-4366-bf97167392b7",
      powerState: "Halted",
      pv: { bootloader: "eliloader", args: "graphical utf8" },
      bootableDisks: ["3"],
    },
    changed: {
      uuid: "f436d158-6db8-8b56-4366-bf97167392b7",
      powerState: "Halted",
      pv: { bootloader: "eliloader", args: "text utf8" },
      bootableDisks: ["3"],
    },
    update: ["VM.set_PV_args"],
  },
  {
    file: "xenserver-6.0-hvm-windows-xp.json",
    vmRef: "OpaqueRef:2d076598-f6bc-025d-f2d6-c6717cf79b0a",
    profile: "xenapi-1.0",
    // Running HVM, order "dc", the CD "3" bootable. No guest agent (guest_metrics NULL): XAPI refuses a
    // clean reboot of an HVM guest without PV drivers, so its owner would allow a hard one.
    declared: {
      uuid: "ec1cb37a-f0e6-8698-0e85-8c8d293a57a8",
      powerState: "Running",
      hvm: { bootParams: { order: "dc" } },
      bootableDisks: ["3"],
      policy: { shutdown: "hard" },
    },
    changed: {
      uuid: "ec1cb37a-f0e6-8698-0e85-8c8d293a57a8",
      powerState: "Running",
      hvm: { bootParams: { order: "cd" } },
      bootableDisks: ["3"],
      policy: { shutdown: "hard" },
    },
    update: [
      "VM.add_to_other_config",
      "VM.set_HVM_boot_params",
      "VM.hard_reboot",
      "VM.remove_from_other_config",
    ],
    rebuiltBy: "hard_reboot",
  },
  {
    file: "xenserver-6.1-pv-pygrub-userdevice-xvda.json",
    vmRef: "OpaqueRef:2691907c-6e32-f1f0-c3eb-4507d1e8c38d",
    profile: "xenapi-1.0",
    // Running PV guest, pygrub; its bootable disk's userdevice is "xvda", declared as the record spells it.
    declared: {
      uuid: "86104950-3d17-3787-80d5-f7b8c0aaf258",
      powerState: "Running",
      pv: { bootloader: "pygrub" },
      bootableDisks: ["xvda"],
    },
    changed: {
      uuid: "86104950-3d17-3787-80d5-f7b8c0aaf258",
      powerState: "Running",
      pv: { bootloader: "pygrub", args: "console=hvc0" },
      bootableDisks: ["xvda"],
    },
    update: ["VM.add_to_other_config", "VM.set_PV_args", "VM.clean_reboot", "VM.remove_from_other_config"],
    rebuiltBy: "clean_reboot",
  },
  {
    file: "xenserver-6.2-pv-pygrub-debian.json",
    vmRef: "OpaqueRef:13b9ec24-04ea-ae04-78e6-6ec4b81a8deb",
    profile: "xenserver-7",
    declared: {
      uuid: "e87f47c3-0057-69a2-72c8-6a5df168af43",
      powerState: "Halted",
      pv: { bootloader: "pygrub", args: "-- quiet console=hvc0" },
      bootableDisks: ["0"],
    },
    changed: {
      uuid: "e87f47c3-0057-69a2-72c8-6a5df168af43",
      powerState: "Halted",
      pv: { bootloader: "pygrub", args: "-- console=hvc0" },
      bootableDisks: ["0"],
    },
    update: ["VM.set_PV_args"],
  },
  {
    file: "xenserver-6.2-hvm-debian.json",
    vmRef: "OpaqueRef:c0fa9288-2a6b-cd8e-b9a8-cc5afc63b386",
    profile: "xenserver-7",
    // Running Linux HVM without a guest agent (guest_metrics NULL): clean first, hard when the guest cannot.
    declared: {
      uuid: "1a66c720-8632-5ca3-1e4d-82569780a1b8",
      powerState: "Running",
      hvm: { bootParams: { order: "dc" } },
      bootableDisks: ["0"],
      policy: { shutdown: "clean-then-hard" },
    },
    changed: {
      uuid: "1a66c720-8632-5ca3-1e4d-82569780a1b8",
      powerState: "Running",
      hvm: { bootParams: { order: "cd" } },
      bootableDisks: ["0"],
      policy: { shutdown: "clean-then-hard" },
    },
    update: [
      "VM.add_to_other_config",
      "VM.set_HVM_boot_params",
      "VM.clean_reboot",
      "VM.hard_reboot",
      "VM.remove_from_other_config",
    ],
    previewed: [
      "VM.add_to_other_config",
      "VM.set_HVM_boot_params",
      "VM.clean_reboot",
      "VM.remove_from_other_config",
    ],
    lastCalls: [
      "VM.add_to_other_config",
      "VM.set_HVM_boot_params",
      "VM.hard_reboot (escalated from VM.clean_reboot)",
      "VM.remove_from_other_config",
    ],
    rebuiltBy: "hard_reboot",
  },
  {
    file: "xenserver-6.2-pv-pygrub-xmlrpc.json",
    // VM.get_record's argument is not in the corpus: a made-up ref.
    vmRef: "OpaqueRef:c0b1a5e0-0000-4000-8000-92d00a041517",
    profile: "xenserver-7",
    declared: {
      uuid: "92d00a04-6696-1517-5ba9-59cca3407c28",
      powerState: "Running",
      pv: { bootloader: "pygrub", args: PRESEED_ARGS },
    },
    changed: {
      uuid: "92d00a04-6696-1517-5ba9-59cca3407c28",
      powerState: "Running",
      pv: { bootloader: "pygrub", args: "console=hvc0" },
    },
    update: ["VM.add_to_other_config", "VM.set_PV_args", "VM.clean_reboot", "VM.remove_from_other_config"],
    rebuiltBy: "clean_reboot",
  },
  {
    file: "xenserver-6.2-hvm-xmlrpc.json",
    vmRef: "OpaqueRef:c2466b5e-6ef6-44af-d79d-7206eb701a34",
    profile: "xenserver-7",
    declared: {
      uuid: "af5e9f33-45d2-d07d-f975-d0e99814776d",
      powerState: "Halted",
      hvm: { bootParams: { order: "cnd" } },
    },
    changed: {
      uuid: "af5e9f33-45d2-d07d-f975-d0e99814776d",
      powerState: "Halted",
      hvm: { bootParams: { order: "dc" } },
    },
    update: ["VM.set_HVM_boot_params"],
  },
  {
    file: "xenserver-7.2-hvm-windows2016.json",
    vmRef: "OpaqueRef:43a1b8d4-da96-cb08-10f5-fb368abed19c",
    profile: "xenserver-7",
    declared: {
      uuid: "81c373d7-a407-322f-911b-31386eb5215d",
      powerState: "Running",
      hvm: { bootParams: { order: "dc" } },
      bootableDisks: ["0"],
    },
    changed: {
      uuid: "81c373d7-a407-322f-911b-31386eb5215d",
      powerState: "Running",
      hvm: { bootParams: { order: "cd" } },
      bootableDisks: ["0"],
    },
    update: [
      "VM.add_to_other_config",
      "VM.set_HVM_boot_params",
      "VM.clean_reboot",
      "VM.remove_from_other_config",
    ],
    rebuiltBy: "clean_reboot",
  },
  {
    file: "xenserver-7.2-hvm-centos7.json",
    vmRef: "OpaqueRef:08632af0-473e-5106-f400-7910229e49be",
    profile: "xenserver-7",
    declared: {
      uuid: "0a05d5ad-3e4b-f0dc-6101-8c56623958bc",
      powerState: "Running",
      hvm: { bootParams: { order: "cdn" } },
      bootableDisks: ["0"],
    },
    changed: {
      uuid: "0a05d5ad-3e4b-f0dc-6101-8c56623958bc",
      powerState: "Running",
      hvm: { bootParams: { order: "dcn" } },
      bootableDisks: ["0"],
    },
    update: [
      "VM.add_to_other_config",
      "VM.set_HVM_boot_params",
      "VM.clean_reboot",
      "VM.remove_from_other_config",
    ],
    rebuiltBy: "clean_reboot",
  },
  {
    file: "xenserver-7.2-pv-pygrub-centos6-empty-order.json",
    vmRef: "OpaqueRef:957f576a-2347-1789-80db-4beb50466bc2",
    profile: "xenserver-7",
    // PV (policy ""), even though HVM_boot_params holds an empty "order".
    declared: {
      uuid: "8f5bc97c-42fa-d619-aba4-d25eced735e0",
      powerState: "Halted",
      pv: { bootloader: "pygrub", args: "graphical utf8" },
      bootableDisks: ["0"],
    },
    changed: {
      uuid: "8f5bc97c-42fa-d619-aba4-d25eced735e0",
      powerState: "Halted",
      pv: { bootloader: "pygrub", args: "console=hvc0" },
      bootableDisks: ["0"],
    },
    update: ["VM.set_PV_args"],
  },
  {
    file: "xenserver-8-hvm-uefi-windows11.json",
    vmRef: "OpaqueRef:6ef08bce-0bf0-30ff-804f-5f0ee4bbdd13",
    profile: "current",
    declared: {
      uuid: "c5db1298-3e97-53bb-4f97-bd039ca8c217",
      powerState: "Running",
      hvm: { bootParams: { order: "cd", firmware: "uefi" } },
    },
    changed: {
      uuid: "c5db1298-3e97-53bb-4f97-bd039ca8c217",
      powerState: "Running",
      hvm: { bootParams: { order: "dc", firmware: "uefi" } },
    },
    update: [
      "VM.add_to_other_config",
      "VM.set_HVM_boot_params",
      "VM.clean_reboot",
      "VM.remove_from_other_config",
    ],
    rebuiltBy: "clean_reboot",
  },
];

//////////////////////////////
////   harness            ////
//////////////////////////////

let pkg: ProviderPackage;
let providerText: string;

beforeAll(async () => {
  pkg = await buildProviderPackage();
  providerText = (await serializeProvider(pkg)).text;
}, 120_000);

afterAll(async () => {
  await disposeProviderPackage(pkg);
});

interface CallLogEntry {
  seq: number;
  method: string;
  ok: boolean;
  params: unknown[];
}

/** Calls that read, or keep a session or task: everything else changes the pool's state. */
const READ_ONLY = /^(session|event|task|system)\.|\.(get_|assert_|query)/;

function methods(lines: unknown): string[] {
  return ((lines as string[] | undefined) ?? []).map((l) => /^\d+\. ([A-Za-z]+\.\w+)/.exec(l)?.[1] ?? l);
}

describe.each(CASES)("$file", (c) => {
  let sim: RunningSimulator | undefined;
  let loadError: unknown;
  let host: ProviderHost;
  const urn = urnOf(c.file.replace(/\.json$/, ""));

  beforeAll(async () => {
    try {
      sim = await startSimulator({
        port: 0,
        member: false,
        users: { root: PASSWORD },
        profile: c.profile,
        defaultOperationMs: 5,
        state: stateWith(c.profile, c),
      });
    } catch (error) {
      loadError = error;
      return;
    }
    host = await ProviderHost.start(providerText, pkg.programDir);
    await host.configure({ "xapi:url": sim.url, "xapi:username": "root", "xapi:password": PASSWORD });
  }, 60_000);

  afterAll(async () => {
    await host?.close();
    await sim?.close();
  });

  function loaded(): RunningSimulator {
    if (sim === undefined) throw new Error(`the record did not load: ${String(loadError)}`);
    return sim;
  }
  async function control<T>(op: string, body: Record<string, unknown> = {}): Promise<T> {
    const fn = loaded().model.control[op];
    if (fn === undefined) throw new Error(`xapi-sim has no control op ${op}`);
    return (await fn(body)) as T;
  }
  const log = (since = 0) => control<CallLogEntry[]>("callLog", { since });
  const lastSeq = async () => (await log()).at(-1)?.seq ?? 0;
  /** The state-changing calls sent since `since` and accepted (an `Async.` call whose task then fails included). */
  const writesSince = async (since: number) =>
    (await log(since))
      .filter((e) => e.ok)
      .map((e) => e.method.replace(/^Async\./, ""))
      .filter((m) => !READ_ONLY.test(m));
  const pick = (bag: Bag | undefined) => {
    const out: Bag = {};
    for (const key of ["uuid", "powerState", "pv", "hvm", "bootableDisks"]) {
      if (bag?.[key] !== undefined) out[key] = bag[key];
    }
    return out;
  };

  let id: string;
  let createdOuts: Bag;
  let readProps: Bag;
  let readInputs: Bag;

  it(`loads into xapi-sim under its generation's profile (${c.profile}), its boot fields as recorded`, async () => {
    expect(c.profile).toBe(profileFor(load(c.file)));
    expect(loadError).toBeUndefined();
    const file = load(c.file);
    const record = file.format === "xapi-db-row" ? apiRecordOfDbRow(file.record, VM_DEFAULTS) : file.record;
    const state = await control<SimSnapshot>("state");
    const served = state.vms.find((v) => v.ref === c.vmRef)?.record as Fields | undefined;
    const bootFields = (r: Fields | undefined) =>
      Object.fromEntries(BOOT_FIELDS.map((f) => [f, r === undefined ? undefined : r[f]]));
    expect(bootFields(served)).toEqual(bootFields(record));
  });

  it("(a) adopting it as it is writes only the owner tag", async () => {
    const since = await lastSeq();
    const checked = await host.check({}, { ...c.declared, __xapi: { urn } });
    expect(checked.failures).toEqual([]);
    const created = await host.create(checked.inputs);
    id = created.id;
    createdOuts = created.outs;
    const writes = (await log(since)).filter(
      (e) => e.ok && !READ_ONLY.test(e.method.replace(/^Async\./, "")),
    );
    expect({ id, writes: writes.map((e) => [e.method, ...e.params.slice(1)]) }).toEqual({
      id: c.declared.uuid,
      writes: [["VM.add_to_other_config", URN_KEY, urn]],
    });
  });

  it("(b) read gives back the declaration", async () => {
    loaded();
    const read = await host.read(id, createdOuts);
    readProps = read.props;
    readInputs = read.inputs ?? {};
    expect(pick(readInputs)).toEqual(pick(c.declared));
  });

  it("(c) a preview of the same declaration plans nothing and reports no change", async () => {
    const since = await lastSeq();
    const preview = await host.check(readInputs, { ...c.declared, __xapi: { preview: true, urn } });
    const diff = await host.diff(id, readProps, preview.inputs);
    expect({
      failures: preview.failures,
      planned: preview.inputs.plannedCalls,
      changes: diff.changes,
      writes: await writesSince(since),
    }).toEqual({ failures: [], planned: undefined, changes: "none", writes: [] });
  });

  it("(d) one boot field changed: that setter plus the restart the policy asks, as previewed", async () => {
    loaded();
    const preview = await host.check(readInputs, { ...c.changed, __xapi: { preview: true, urn } });
    const diff = await host.diff(id, readProps, preview.inputs);
    const checked = await host.check(readInputs, { ...c.changed, __xapi: { urn } });
    const since = await lastSeq();
    const outs = await host.update(id, readProps, checked.inputs);
    const all = await log();
    const boot = await control<{ pendingBootChange: boolean | null; lastBoot: { via: string } | null }>(
      "bootRecord",
      { uuid: id },
    );
    // The outputs in the stored form, read as the operations read them (`observed` → flat keys).
    const flat = unpack(outs, id);
    const lastCalls = flat.lastCalls as { call: string; escalatedFrom?: string }[];
    expect({
      previewed: methods(preview.inputs.plannedCalls),
      changes: diff.changes,
      writes: await writesSince(since),
      lastCalls: lastCalls.map((x) =>
        x.escalatedFrom === undefined ? x.call : `${x.call} (escalated from ${x.escalatedFrom})`,
      ),
      observedPowerState: flat.observedPowerState,
      // The domain runs the change (rebuilt by the restart), or the VM is Halted and boots it next time.
      boot: { pending: boot.pendingBootChange, via: boot.lastBoot?.via },
      setDomainType: all.filter((e) => e.method.endsWith("VM.set_domain_type")).length,
    }).toEqual({
      previewed: c.previewed ?? c.update,
      changes: "some",
      writes: c.update,
      lastCalls: c.lastCalls ?? c.update,
      observedPowerState: c.changed.powerState,
      boot:
        c.rebuiltBy === undefined ? { pending: null, via: undefined } : { pending: false, via: c.rebuiltBy },
      setDomainType: 0,
    });
  });
});
