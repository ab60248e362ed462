/**
 * Conformance of the profiles and of the networking/metrics objects through unmodified real clients:
 * the npm `xen-api` client (Vates, over JSON-RPC and XML-RPC, with its event-fed object cache) and the
 * official Python `XenAPI` binding (XML-RPC, run in a python3 child process).
 *
 * Per profile: the API version a client reads, `domain_type` absent (and MESSAGE_METHOD_UNKNOWN for
 * its messages) on xenserver-7 and xenapi-1.0, `Crashed` under xenapi-1.0; VIF, network,
 * VM_guest_metrics and VM_metrics readable, HANDLE_INVALID for a bad ref; a state file holding VM
 * records as a XenServer 7.2 host dumps them over XML-RPC loads under `current`; a dangling ref stops the
 * CLI with the InvalidStateError message.
 */

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "../simulator";
import { FIXTURE } from "../simulator/model";
import { FAILURE_OF, runPython } from "./python-client";

const ROOT = path.resolve(__dirname, "..");
const CLI = path.join(ROOT, "dist", "simulator", "cli.js");

/** The slice of xen-api's `Xapi` class these tests use (the package ships no types). */
interface Xapi {
  readonly objectsFetched: Promise<void>;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  call(method: string, ...args: unknown[]): Promise<unknown>;
  getObjectByUuid(uuid: string, defaultValue?: unknown): XapiObject | undefined;
  getObject(idOrUuidOrRef: string, defaultValue?: unknown): XapiObject | undefined;
}
type XapiObject = Record<string, unknown> & { $ref: string };
type CreateClient = (options: Record<string, unknown>) => Xapi;
type Profile = "current" | "xenserver-7" | "xenapi-1.0";

let createClient: CreateClient;

beforeAll(async () => {
  // xen-api is ESM-only; a computed specifier keeps TypeScript from wanting its (absent) types.
  const specifier: string = "xen-api";
  ({ createClient } = (await import(specifier)) as { createClient: CreateClient });
});

async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Python prologue: connect with the URL from argv, log in, `out(...)` prints the JSON answer. */
const PROLOGUE = `
import json, sys, xmlrpc.client
import XenAPI
url, vm_uuid = sys.argv[1:3]
session = XenAPI.Session(url, ignore_ssl=True)
session.xenapi.login_with_password("root", "xapi-sim", "1.0", "xapi-sim-test")
def out(value):
    print(json.dumps(value, default=lambda o: getattr(o, "value", str(o))))
${FAILURE_OF}vm = session.xenapi.VM.get_by_uuid(vm_uuid)
`;

function python(script: string, url: string, vmUuid: string): Promise<unknown> {
  return runPython(PROLOGUE + script, [url, vmUuid], { timeout: 20_000 });
}

const API_VERSIONS: Record<Profile, [number, number]> = {
  current: [2, 21],
  "xenserver-7": [2, 7],
  "xenapi-1.0": [1, 0],
};

describe.each<Profile>(["xenserver-7", "xenapi-1.0", "current"])("profile %s", (profile) => {
  let sim: RunningSimulator;
  const clients: Xapi[] = [];
  const hasDomainType = profile === "current";

  beforeAll(async () => {
    sim = await startSimulator({ port: 0, member: false, profile, defaultOperationMs: 2 });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.disconnect().catch(() => undefined)));
    await sim.close();
  });

  async function connected(transport: "json-rpc" | "xml-rpc"): Promise<Xapi> {
    const xapi = createClient({
      url: sim.url,
      auth: { user: "root", password: "xapi-sim" },
      transport,
      allowUnauthorized: true,
      debounce: 20,
    });
    clients.push(xapi);
    await xapi.connect();
    await xapi.objectsFetched;
    return xapi;
  }

  describe.each(["json-rpc", "xml-rpc"] as const)("npm xen-api over %s", (transport) => {
    let xapi: Xapi;
    beforeAll(async () => {
      xapi = await connected(transport);
    });

    it("reads the profile's API version from the master host", async () => {
      // An int64 arrives as a number over JSON-RPC, as a decimal string over XML-RPC.
      const host = xapi.getObjectByUuid(FIXTURE.master.uuid);
      expect([Number(host?.API_version_major), Number(host?.API_version_minor)]).toEqual(
        API_VERSIONS[profile],
      );
    });

    it(hasDomainType ? "sees domain_type in the cached VM" : "sees no domain_type in the cached VM", () => {
      const vm = xapi.getObjectByUuid(FIXTURE.web.uuid);
      expect(vm?.name_label).toBe("web-01");
      expect(vm !== undefined && "domain_type" in vm).toBe(hasDomainType);
    });

    it(
      hasDomainType ? "calls VM.get_domain_type" : "gets MESSAGE_METHOD_UNKNOWN for VM.get_domain_type",
      async () => {
        const result = await xapi.call("VM.get_domain_type", FIXTURE.web.ref).catch((e: unknown) => e);
        if (hasDomainType) expect(result).toBe("hvm");
        else expect(result).toMatchObject({ code: "MESSAGE_METHOD_UNKNOWN", params: ["VM.get_domain_type"] });
      },
    );

    it("resolves the VM's guest metrics, VIF and network from its object cache", () => {
      const vm = xapi.getObjectByUuid(FIXTURE.web.uuid) as XapiObject & {
        $guest_metrics: XapiObject;
        $metrics: XapiObject;
        $VIFs: (XapiObject & { $network: XapiObject })[];
      };
      expect(vm.$guest_metrics.os_version).toMatchObject({ distro: "debian", major: "12" });
      expect(vm.$guest_metrics.PV_drivers_version).toEqual({ major: "8", minor: "4", micro: "0" });
      expect(vm.$VIFs.map((vif) => [vif.MAC, vif.device, vif.$network.name_label])).toEqual([
        ["5a:1f:00:00:00:e1", "0", "Pool-wide network associated with eth0"],
      ]);
      expect("current_domain_type" in vm.$metrics).toBe(hasDomainType);
    });

    it("gets HANDLE_INVALID for a bad VIF, network and VM_guest_metrics ref", async () => {
      for (const cls of ["VIF", "network", "VM_guest_metrics", "VM_metrics"]) {
        const error = await xapi.call(`${cls}.get_record`, "OpaqueRef:bad").catch((e: unknown) => e);
        expect(error).toMatchObject({ code: "HANDLE_INVALID", params: [cls, "OpaqueRef:bad"] });
      }
    });
  });

  it("the event-fed cache follows a new guest's metrics as it boots", async () => {
    const xapi = await connected("json-rpc");
    await xapi.call("VM.start", FIXTURE.db.ref, false, false);
    await until(() => {
      const vm = xapi.getObjectByUuid(FIXTURE.db.uuid) as
        | { $guest_metrics?: { networks?: object } }
        | undefined;
      return vm?.$guest_metrics?.networks !== undefined;
    }, "db-01's guest metrics in the cache");
    await xapi.call("VM.hard_shutdown", FIXTURE.db.ref);
  });

  if (profile === "xenapi-1.0") {
    it("the event-fed cache sees a crashed guest as Crashed, and hard_shutdown leave it", async () => {
      const xapi = await connected("xml-rpc");
      await sim.model.control.crashGuest?.({ uuid: FIXTURE.stubborn.uuid });
      await until(() => xapi.getObjectByUuid(FIXTURE.stubborn.uuid)?.power_state === "Crashed", "Crashed");
      await xapi.call("VM.hard_shutdown", FIXTURE.stubborn.ref);
      await until(() => xapi.getObjectByUuid(FIXTURE.stubborn.uuid)?.power_state === "Halted", "Halted");
    });
  }

  describe("Python XenAPI binding", () => {
    it("reads the API version, and domain_type only where the profile has it", async () => {
      const result = await python(
        `host = session.xenapi.session.get_this_host(session._session)
rec = session.xenapi.VM.get_record(vm)
out([session.xenapi.host.get_API_version_major(host), session.xenapi.host.get_API_version_minor(host),
     "domain_type" in rec, failure_of(session.xenapi.VM.get_domain_type, vm),
     failure_of(session.xenapi.VM.set_domain_type, vm, "pv"),
     # system.listMethods is answered bare (api_server.ml), which the binding cannot parse: plain xmlrpc.client.
     [m for m in xmlrpc.client.ServerProxy(url).system.listMethods() if "domain_type" in m and m.startswith("VM.")]])`,
        sim.url,
        FIXTURE.pv.uuid,
      );
      const [major, minor] = API_VERSIONS[profile];
      expect(result).toEqual(
        hasDomainType
          ? [String(major), String(minor), true, null, null, ["VM.get_domain_type", "VM.set_domain_type"]]
          : [
              String(major),
              String(minor),
              false,
              ["MESSAGE_METHOD_UNKNOWN", "VM.get_domain_type"],
              ["MESSAGE_METHOD_UNKNOWN", "VM.set_domain_type"],
              [],
            ],
      );
    });

    it("reads the guest metrics, VIF and network records, and HANDLE_INVALID for a bad ref", async () => {
      const result = await python(
        `rec = session.xenapi.VM.get_record(vm)
gm = session.xenapi.VM_guest_metrics.get_record(rec["guest_metrics"])
vif = session.xenapi.VIF.get_record(rec["VIFs"][0])
net = session.xenapi.network.get_record(vif["network"])
out([gm["os_version"]["name"], gm["PV_drivers_version"], gm["networks"]["0/ip"], vif["MAC"], vif["MTU"],
     net["name_label"], session.xenapi.VIF.get_by_uuid(vif["uuid"]) == rec["VIFs"][0],
     failure_of(session.xenapi.VIF.get_record, "OpaqueRef:bad"),
     failure_of(session.xenapi.VM_guest_metrics.get_os_version, "OpaqueRef:bad"),
     failure_of(session.xenapi.VM_guest_metrics.get_memory, rec["guest_metrics"])])`,
        sim.url,
        FIXTURE.pv.uuid,
      );
      expect(result).toEqual([
        "Debian GNU/Linux 12 (bookworm)",
        { major: "8", minor: "4", micro: "0" },
        "192.0.2.229",
        "5a:1f:00:00:00:e5",
        "1500",
        "Pool-wide network associated with eth0",
        true,
        ["HANDLE_INVALID", "VIF", "OpaqueRef:bad"],
        ["HANDLE_INVALID", "VM_guest_metrics", "OpaqueRef:bad"],
        ["MESSAGE_REMOVED"],
      ]);
    });

    if (profile === "xenapi-1.0") {
      it("sees power_state Crashed after a guest crash, and Halted after hard_shutdown", async () => {
        await sim.model.control.reset?.({});
        await sim.model.control.crashGuest?.({ uuid: FIXTURE.web.uuid });
        const result = await python(
          `before = session.xenapi.VM.get_power_state(vm)
refused = failure_of(session.xenapi.VM.clean_shutdown, vm)
session.xenapi.VM.hard_shutdown(vm)
out([before, refused, session.xenapi.VM.get_power_state(vm)])`,
          sim.url,
          FIXTURE.web.uuid,
        );
        expect(result).toEqual([
          "Crashed",
          ["VM_BAD_POWER_STATE", FIXTURE.web.ref, "running", "crashed"],
          "Halted",
        ]);
      });
    }
  });
});

describe("state files", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "xapi-sim-state-"));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("loads VM records as a XenServer 7.2 host dumps them (Python binding, XML-RPC) under current", async () => {
    // Arrange: dump every VM record from a xenserver-7 pool through the binding: no domain_type, int64 as strings.
    const old = await startSimulator({ port: 0, member: false, profile: "xenserver-7" });
    const dump = (await python(
      "out(session.xenapi.VM.get_all_records())",
      old.url,
      FIXTURE.web.uuid,
    )) as Record<string, Record<string, unknown>>;
    const state = JSON.parse(JSON.stringify(old.model.exportState())) as Record<string, unknown> & {
      vms: { ref: string; record: unknown }[];
    };
    await old.close();
    const { profile: _, ...stateWithoutProfile } = state;
    for (const vm of stateWithoutProfile.vms) vm.record = dump[vm.ref];
    expect(dump[FIXTURE.web.ref]?.memory_static_max).toBe(String(2 * 1024 ** 3));
    expect(dump[FIXTURE.web.ref]).not.toHaveProperty("domain_type");
    const file = path.join(dir, "xenserver-7-dump.json");
    fs.writeFileSync(
      file,
      JSON.stringify({ format: "xapi-sim-state", version: 1, state: stateWithoutProfile }),
    );
    // Act
    const sim = await startSimulator({ port: 0, member: false, stateFile: file });
    try {
      const result = await python(
        `out([session.xenapi.VM.get_domain_type(vm), session.xenapi.VM.get_memory_static_max(vm),
     session.xenapi.VM.get_power_state(vm)])`,
        sim.url,
        FIXTURE.pv.uuid,
      );
      // Assert: upgraded as XAPI does (HVM_boot_policy "" → pv), numbers read back as int64.
      expect(result).toEqual(["pv", String(2 * 1024 ** 3), "Paused"]);
    } finally {
      await sim.close();
    }
  });

  it("refuses a dangling VBD reference: the CLI exits 1 naming the path and the missing VBD", async () => {
    const model = await startSimulator({ port: 0, member: false });
    const state = JSON.parse(JSON.stringify(model.model.exportState())) as {
      vms: { ref: string; record: { VBDs: string[] } }[];
    };
    await model.close();
    const web = state.vms.findIndex((vm) => vm.ref === FIXTURE.web.ref);
    state.vms[web]?.record.VBDs.push("OpaqueRef:gone");
    const file = path.join(dir, "dangling.json");
    fs.writeFileSync(file, JSON.stringify({ format: "xapi-sim-state", version: 1, state }));
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, "--port", "0", "--state", file], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      child.stderr.on("data", (chunk: Buffer) => {
        err += chunk.toString();
      });
      child.on("exit", (c) => resolve({ code: c, stderr: err }));
    });
    expect(code).toBe(1);
    expect(stderr).toContain(
      `vms.${web}.record.VBDs.3 names VBD OpaqueRef:gone, which is not in the state (a dangling reference)`,
    );
  });
});
