/**
 * Real, unmodified tools that read guest metrics and VIFs, run against xapi-sim:
 *
 * - Ansible's `community.general.xenserver_guest_info` module (PyPI `ansible`, test/requirements.txt),
 *   run through the `ansible` ad-hoc CLI. It logs in with the Python `XenAPI` binding, reads the pool,
 *   `session.get_this_host` and the host's `software_version`, then the VM record, its VBDs, VDIs and
 *   SRs, its VIFs and their networks, and its VM_guest_metrics, and reports each NIC's network name,
 *   MAC, MTU and the IP addresses the guest agent reported.
 * - Xen Orchestra's connector, npm `xen-api`: its event-fed object cache links a VM to its guest
 *   metrics (the OS and PV drivers versions Xen Orchestra shows) and its VIFs to their networks.
 */

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model";

const ANSIBLE = process.env.ANSIBLE ?? "ansible";

interface GuestInfo {
  state: string;
  name: string;
  customization_agent: string;
  disks: { name: string; os_device: string; sr: string; size: number }[];
  cdrom: { type: string; iso_name?: string };
  networks: { name: string; mac: string; mtu: string; vif_device: string; ip: string; ip6: string[] }[];
}

let home: string;

beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "xapi-sim-ansible-"));
});

afterAll(() => {
  fs.rmSync(home, { recursive: true, force: true });
});

/** `ansible localhost -m community.general.xenserver_guest_info` for one VM; resolves with `instance`. */
function guestInfo(sim: RunningSimulator, vm: string): Promise<GuestInfo> {
  const args = `hostname=${sim.url} username=root password=xapi-sim validate_certs=false name=${vm}`;
  const env = {
    ...process.env,
    ANSIBLE_HOME: home,
    ANSIBLE_LOCAL_TEMP: path.join(home, "tmp"),
    ANSIBLE_LOAD_CALLBACK_PLUGINS: "1",
    ANSIBLE_STDOUT_CALLBACK: "json",
    ANSIBLE_PYTHON_INTERPRETER: "auto_silent",
    ANSIBLE_LOCALHOST_WARNING: "false",
    ANSIBLE_INVENTORY_UNPARSED_WARNING: "false",
    ANSIBLE_NOCOLOR: "1",
  };
  return new Promise((resolve, reject) => {
    execFile(
      ANSIBLE,
      ["localhost", "-m", "community.general.xenserver_guest_info", "-a", args],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => {
        let result: { instance?: GuestInfo; msg?: string } | undefined;
        try {
          const report = JSON.parse(stdout) as {
            plays: { tasks: { hosts: Record<string, { instance?: GuestInfo; msg?: string }> }[] }[];
          };
          result = report.plays[0]?.tasks[0]?.hosts.localhost;
        } catch {
          result = undefined;
        }
        if (result?.instance) return resolve(result.instance);
        reject(
          new Error(
            `ansible failed (${error?.message ?? "no instance"}): ${result?.msg ?? ""}\n${stdout}\n${stderr}`,
          ),
        );
      },
    );
  });
}

describe.each(["current", "xenserver-7"] as const)("Ansible xenserver_guest_info, profile %s", (profile) => {
  let sim: RunningSimulator;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, member: false, profile, defaultOperationMs: 2 });
  });

  afterAll(async () => {
    await sim.close();
  });

  it("reports a running guest's NIC: network name, MAC, MTU and the addresses from its guest metrics", async () => {
    const info = await guestInfo(sim, "web-01");
    expect(info.state).toBe("poweredon");
    expect(info.networks).toEqual([
      {
        name: "Pool-wide network associated with eth0",
        mac: "5a:1f:00:00:00:e1",
        mtu: "1500",
        vif_device: "0",
        ip: "192.0.2.225",
        ip6: ["fe80:0000:0000:0000:581f:00ff:fe00:00e1"],
        prefix: "",
        netmask: "",
        gateway: "",
        prefix6: "",
        gateway6: "",
      },
    ]);
    // The agent advertises no static-IP feature in `other`, so the module reads xenstore_data.
    expect(info.customization_agent).toBe("custom");
    expect(info.disks.map((d) => [d.name, d.os_device, d.sr])).toEqual([
      ["web-01 root", "xvda", "Local storage"],
      ["web-01 data", "xvdb", "Local storage"],
    ]);
  });

  it("reports no address for a guest without guest metrics, and the address once it has booted", async () => {
    const halted = await guestInfo(sim, "db-01");
    await sim.model.control.reset?.({});
    const dispatch = sim.model.dispatch;
    const meta = { host: "master", transport: "jsonrpc" } as const;
    const session = await dispatch("session.login_with_password", ["root", "xapi-sim"], meta);
    await dispatch("VM.start", [session, FIXTURE.db.ref, false, false], meta);
    const running = await guestInfo(sim, "db-01");
    expect(halted.state).toBe("poweredoff");
    expect(halted.networks.map((n) => [n.mac, n.ip])).toEqual([["5a:1f:00:00:00:e2", ""]]);
    expect(running.networks.map((n) => [n.mac, n.ip])).toEqual([["5a:1f:00:00:00:e2", "192.0.2.226"]]);
  });

  it("reports the ISO in a guest's CD drive", async () => {
    const info = await guestInfo(sim, "legacy-01");
    expect(info.cdrom).toEqual({ type: "iso", iso_name: "debian-12.5.0-amd64-netinst.iso" });
  });
});

describe("Xen Orchestra's connector (npm xen-api): its object cache", () => {
  interface Xapi {
    readonly objectsFetched: Promise<void>;
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    getObjectByUuid(uuid: string): Record<string, unknown> | undefined;
  }
  type Linked = Record<string, unknown> & {
    $guest_metrics: Record<string, unknown>;
    $VIFs: (Record<string, unknown> & { $network: Record<string, unknown> })[];
  };
  let sim: RunningSimulator;
  let xapi: Xapi;

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, member: false });
    // xen-api is ESM-only; a computed specifier keeps TypeScript from wanting its (absent) types.
    const specifier: string = "xen-api";
    const { createClient } = (await import(specifier)) as { createClient: (o: object) => Xapi };
    xapi = createClient({
      url: sim.url,
      auth: { user: "root", password: "xapi-sim" },
      allowUnauthorized: true,
    });
    await xapi.connect();
    await xapi.objectsFetched;
  });

  afterAll(async () => {
    await xapi.disconnect().catch(() => undefined);
    await sim.close();
  });

  it("reports each guest's OS, PV drivers version and NICs (MAC, network) as Xen Orchestra lists them", () => {
    const summary = [FIXTURE.web, FIXTURE.pv, FIXTURE.legacy].map(({ uuid }) => {
      const vm = xapi.getObjectByUuid(uuid) as Linked;
      const gm = vm.$guest_metrics as {
        os_version?: { name?: string };
        PV_drivers_version?: Record<string, string>;
      };
      const drivers = gm?.PV_drivers_version;
      return {
        name: vm.name_label,
        os: gm?.os_version?.name ?? null,
        pvDrivers: drivers ? `${drivers.major}.${drivers.minor}.${drivers.micro}` : null,
        nics: vm.$VIFs.map((vif) => `${vif.device} ${vif.MAC} ${vif.$network.name_label}`),
      };
    });
    expect(summary).toEqual([
      {
        name: "web-01",
        os: "Debian GNU/Linux 12 (bookworm)",
        pvDrivers: "8.4.0",
        nics: ["0 5a:1f:00:00:00:e1 Pool-wide network associated with eth0"],
      },
      {
        name: "pv-01",
        os: "Debian GNU/Linux 12 (bookworm)",
        pvDrivers: "8.4.0",
        nics: ["0 5a:1f:00:00:00:e5 Pool-wide network associated with eth0"],
      },
      {
        name: "legacy-01",
        os: null,
        pvDrivers: null,
        nics: ["0 5a:1f:00:00:00:e3 Pool-wide network associated with eth0"],
      },
    ]);
  });
});
