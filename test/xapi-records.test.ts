import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// A corpus of VM records dumped from real XenServer hosts (see fixtures/xapi-records/SOURCES.md).
// Every expected value below is written by hand from reading the source; nothing is computed from the files.

const DIR = join(__dirname, "fixtures", "xapi-records");

type Fields = Record<string, unknown>;

interface CorpusFile {
  source: { repository: string; path: string; commit: string; selector: string };
  format: string;
  formatNote: string;
  original?: string;
  apiVersion: { major: string; minor: string }[] | null;
  softwareVersion: unknown;
  record: Fields;
  vbds: Record<string, Fields>;
}

interface Vbd {
  userdevice: string;
  device: string;
  type: string;
  bootable: boolean | string;
}

interface Expectation {
  repository: string;
  commit: string;
  format: "xapi-api-record" | "jsonrpc-api-record" | "xmlrpc-transcription" | "xapi-db-row";
  /** API_version of every host record in the source, or null when the source has no host record. */
  apiVersion: { major: string; minor: string } | null;
  /** Fields of the VM record and their exact values. */
  record: Fields;
  /** Keys the VM record must not have. */
  absent: string[];
  /** The VM's VBD records (compared ignoring order); [] when the source had none. */
  vbds: Vbd[];
  /** Snippets that must appear, as written, in the original .xml text (transcriptions only). */
  originalContains?: string[];
}

const XENADMIN = "bd36a85bff4a64ecb7371d6908d0046518321691";
const XO = "60c46d529c21bfe904f75dde30904630efe47aee";
const FOG = "e43867d11c327720dd21bf9622db0f048f1c4036";
const ANSIBLE = "be191cce6c28fa6e4c489e9b0cac2bfe3d4217db";
const XEN_API = "e2ee48d6883e0b98c4d219d3f0778a10c6655607";

const EXPECTED: Record<string, Expectation> = {
  "xenserver-6.0-pv-eliloader-centos5.json": {
    repository: "xenserver/xenadmin",
    commit: XENADMIN,
    format: "xapi-db-row",
    apiVersion: { major: "1", minor: "9" },
    record: {
      name__label: "CentOS 5 (32-bit) (2)",
      power_state: "Halted",
      PV__bootloader: "eliloader",
      PV__args: "graphical utf8",
      HVM__boot_policy: "",
      HVM__boot_params: "()",
    },
    absent: ["domain_type", "domain__type", "PV_bootloader", "HVM_boot_policy"],
    vbds: [
      { userdevice: "0", device: "", type: "Disk", bootable: "false" },
      { userdevice: "3", device: "", type: "CD", bootable: "true" },
    ],
    originalContains: ['PV__bootloader="eliloader"', 'HVM__boot_policy=""', 'API_version__minor="9"'],
  },
  "xenserver-6.0-hvm-windows-xp.json": {
    repository: "xenserver/xenadmin",
    commit: XENADMIN,
    format: "xapi-db-row",
    apiVersion: { major: "1", minor: "9" },
    record: {
      name__label: "Windows XP SP3 (32-bit) (2)",
      power_state: "Running",
      PV__bootloader: "",
      HVM__boot_policy: "BIOS order",
      HVM__boot_params: "(('order' 'dc'))",
      domarch: "hvm",
    },
    absent: ["domain_type", "domain__type"],
    vbds: [
      { userdevice: "0", device: "hda", type: "Disk", bootable: "false" },
      { userdevice: "3", device: "hdd", type: "CD", bootable: "true" },
    ],
    originalContains: [
      'HVM__boot_policy="BIOS order"',
      "HVM__boot_params=\"(('order' 'dc'))\"",
      'device="hda"',
    ],
  },
  "xenserver-6.1-pv-pygrub-userdevice-xvda.json": {
    repository: "xenserver/xenadmin",
    commit: XENADMIN,
    format: "xapi-db-row",
    apiVersion: { major: "1", minor: "10" },
    record: {
      name__label: "dlvmlocalpo1",
      power_state: "Running",
      PV__bootloader: "pygrub",
      HVM__boot_policy: "",
      HVM__boot_params: "()",
    },
    absent: ["domain_type", "domain__type"],
    vbds: [
      { userdevice: "xvda", device: "xvda", type: "Disk", bootable: "true" },
      { userdevice: "1", device: "", type: "CD", bootable: "false" },
    ],
    originalContains: ['userdevice="xvda"', 'PV__bootloader="pygrub"', 'API_version__minor="10"'],
  },
  "xenserver-6.2-pv-pygrub-debian.json": {
    repository: "vatesfr/xen-orchestra",
    commit: XO,
    format: "xapi-api-record",
    apiVersion: { major: "2", minor: "0" },
    record: {
      name_label: "Debian PV",
      power_state: "Halted",
      PV_bootloader: "pygrub",
      PV_args: "-- quiet console=hvc0",
      HVM_boot_policy: "",
      HVM_boot_params: {},
      $type: "VM",
    },
    absent: ["domain_type"],
    vbds: [
      { userdevice: "0", device: "xvda", type: "Disk", bootable: true },
      { userdevice: "3", device: "xvdd", type: "CD", bootable: false },
    ],
  },
  "xenserver-6.2-hvm-debian.json": {
    repository: "vatesfr/xen-orchestra",
    commit: XO,
    format: "xapi-api-record",
    apiVersion: { major: "2", minor: "0" },
    record: {
      name_label: "Debian HVM",
      power_state: "Running",
      PV_bootloader: "",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "dc" },
    },
    absent: ["domain_type"],
    vbds: [
      { userdevice: "0", device: "hda", type: "Disk", bootable: true },
      { userdevice: "3", device: "hdd", type: "CD", bootable: false },
    ],
  },
  "xenserver-6.2-pv-pygrub-xmlrpc.json": {
    repository: "fog/fog-xenserver",
    commit: FOG,
    format: "xmlrpc-transcription",
    apiVersion: { major: "2", minor: "0" },
    record: {
      name_label: "vm-teste",
      power_state: "Running",
      PV_bootloader: "pygrub",
      HVM_boot_policy: "",
      HVM_boot_params: {},
      VCPUs_max: "1",
      is_a_template: false,
      snapshot_time: "19700101T00:00:00Z",
    },
    absent: ["domain_type"],
    vbds: [],
    originalContains: [
      "<member><name>PV_bootloader</name><value>pygrub</value></member>",
      "<member><name>HVM_boot_policy</name><value/></member>",
      "<member><name>HVM_boot_params</name><value><struct/></value></member>",
    ],
  },
  "xenserver-6.2-hvm-xmlrpc.json": {
    repository: "fog/fog-xenserver",
    commit: FOG,
    format: "xmlrpc-transcription",
    apiVersion: { major: "2", minor: "0" },
    record: {
      name_label: "Puppet Master",
      power_state: "Halted",
      PV_bootloader: "",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "cnd" },
    },
    absent: ["domain_type"],
    vbds: [],
    originalContains: [
      "<member><name>HVM_boot_policy</name><value>BIOS order</value></member>",
      "<member><name>order</name><value>cnd</value></member>",
    ],
  },
  "xenserver-7.2-hvm-windows2016.json": {
    repository: "ansible-collections/community.general",
    commit: ANSIBLE,
    format: "xapi-api-record",
    apiVersion: { major: "2", minor: "7" },
    record: {
      name_label: "ansible-test-vm-1",
      power_state: "Running",
      PV_bootloader: "",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "dc" },
    },
    absent: ["domain_type"],
    vbds: [
      { userdevice: "0", device: "xvda", type: "Disk", bootable: true },
      { userdevice: "3", device: "xvdd", type: "CD", bootable: false },
    ],
  },
  "xenserver-7.2-hvm-centos7.json": {
    repository: "ansible-collections/community.general",
    commit: ANSIBLE,
    format: "xapi-api-record",
    apiVersion: { major: "2", minor: "7" },
    record: {
      name_label: "ansible-test-vm-2",
      power_state: "Running",
      PV_bootloader: "",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { order: "cdn" },
    },
    absent: ["domain_type"],
    vbds: [
      { userdevice: "0", device: "xvda", type: "Disk", bootable: true },
      { userdevice: "1", device: "xvdb", type: "Disk", bootable: false },
      { userdevice: "3", device: "xvdd", type: "CD", bootable: false },
    ],
  },
  "xenserver-7.2-pv-pygrub-centos6-empty-order.json": {
    repository: "ansible-collections/community.general",
    commit: ANSIBLE,
    format: "xapi-api-record",
    apiVersion: { major: "2", minor: "7" },
    record: {
      name_label: "ansible-test-vm-3",
      power_state: "Halted",
      PV_bootloader: "pygrub",
      PV_args: "graphical utf8",
      HVM_boot_policy: "",
      HVM_boot_params: { order: "" },
    },
    absent: ["domain_type"],
    vbds: [
      { userdevice: "0", device: "xvda", type: "Disk", bootable: true },
      { userdevice: "3", device: "", type: "CD", bootable: false },
    ],
  },
  "xenserver-8-hvm-uefi-windows11.json": {
    repository: "xapi-project/xen-api",
    commit: XEN_API,
    format: "jsonrpc-api-record",
    apiVersion: null,
    record: {
      name_label: "win11-x64",
      power_state: "Running",
      domain_type: "hvm",
      PV_bootloader: "",
      HVM_boot_policy: "BIOS order",
      HVM_boot_params: { firmware: "uefi", order: "cd" },
      VCPUs_max: 2,
      domid: 50,
    },
    absent: [],
    vbds: [],
  },
};

const load = (name: string): CorpusFile => JSON.parse(readFileSync(join(DIR, name), "utf8")) as CorpusFile;
const sources = readFileSync(join(DIR, "SOURCES.md"), "utf8");
/** The SOURCES.md section of one file: from its "### `name`" heading to the next heading. */
const sourcesSection = (name: string): string | undefined => {
  const start = sources.indexOf(`### \`${name}\``);
  if (start < 0) return undefined;
  const next = sources.indexOf("\n#", start + 1);
  return sources.slice(start, next < 0 ? undefined : next);
};
const byUserdevice = (a: Vbd, b: Vbd) => a.userdevice.localeCompare(b.userdevice);

describe("real XAPI records corpus", () => {
  it("has exactly the files this test describes", () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith(".json"))
      .sort();
    expect(files).toEqual(Object.keys(EXPECTED).sort());
  });

  it("has no stray original text files", () => {
    const originals = readdirSync(DIR).filter((f) => f.endsWith(".xml"));
    for (const xml of originals) expect(EXPECTED[xml.replace(/\.xml$/, ".json")]).toBeDefined();
  });

  for (const [name, want] of Object.entries(EXPECTED)) {
    describe(name, () => {
      const file = load(name);

      it("names its source, and SOURCES.md has an entry with the same repository and commit", () => {
        expect(file.source.repository).toBe(want.repository);
        expect(file.source.commit).toBe(want.commit);
        expect(file.source.commit).toMatch(/^[0-9a-f]{40}$/);
        expect(file.source.path.length).toBeGreaterThan(0);
        const section = sourcesSection(name);
        expect(section, `SOURCES.md has no "### \`${name}\`" section`).toBeDefined();
        expect(section).toContain(want.commit);
        expect(section).toContain(file.source.path);
      });

      it(`is a ${want.format}${want.originalContains ? " with its original text next to it" : ""}`, () => {
        expect(file.format).toBe(want.format);
        if (want.originalContains) {
          const original = name.replace(/\.json$/, ".xml");
          expect(file.original).toBe(original);
          expect(existsSync(join(DIR, original))).toBe(true);
          const text = readFileSync(join(DIR, original), "utf8");
          for (const snippet of want.originalContains) expect(text).toContain(snippet);
        } else {
          expect(file.original).toBeUndefined();
        }
      });

      it("records the host's API version as the source gives it", () => {
        if (want.apiVersion === null) {
          expect(file.apiVersion).toBeNull();
        } else {
          expect(file.apiVersion?.length).toBeGreaterThan(0);
          for (const v of file.apiVersion ?? []) expect(v).toEqual(want.apiVersion);
        }
      });

      it("has the boot fields SOURCES.md claims", () => {
        for (const [key, value] of Object.entries(want.record)) {
          expect(file.record[key], key).toEqual(value);
        }
        for (const key of want.absent) expect(Object.hasOwn(file.record, key), key).toBe(false);
      });

      it("carries the VM's VBD records", () => {
        const got = Object.values(file.vbds)
          .map(
            (b) =>
              ({ userdevice: b.userdevice, device: b.device, type: b.type, bootable: b.bootable }) as Vbd,
          )
          .sort(byUserdevice);
        expect(got).toEqual([...want.vbds].sort(byUserdevice));
        // Every VBD given belongs to the record (API records list them; database rows hold an S-expression).
        const listed = file.record.VBDs;
        for (const ref of Object.keys(file.vbds)) {
          if (Array.isArray(listed)) expect(listed).toContain(ref);
          else expect(String(listed)).toContain(`'${ref}'`);
        }
      });
    });
  }
});
