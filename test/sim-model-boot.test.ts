/**
 * Boot fields: the domain_type ↔ HVM_boot_policy coupling (xapi-semantics §7.3), setters in any
 * power state (§7.2), start-time validation (§7.4, §2.2), what a domain was built from (§7.6, the
 * `bootRecord` control op), and templates (clone, provision).
 */
import { describe, expect, it } from "vitest";
import { FIXTURE, harness } from "./sim-model-helpers";

const DB = FIXTURE.db;

interface BootView {
  bootCount: number;
  domid: number;
  pendingBootChange: boolean | null;
  lastBoot: Record<string, unknown> | null;
}

describe("domain_type ↔ HVM_boot_policy (§7.3)", () => {
  it("set_domain_type pv clears HVM_boot_policy", async () => {
    const h = await harness();
    await h.call("VM.set_domain_type", DB.ref, "pv");
    expect(await h.call("VM.get_HVM_boot_policy", DB.ref)).toBe("");
  });

  it("set_domain_type hvm writes BIOS order", async () => {
    const h = await harness();
    await h.call("VM.set_domain_type", FIXTURE.pvDirect.ref, "hvm");
    expect(await h.call("VM.get_HVM_boot_policy", FIXTURE.pvDirect.ref)).toBe("BIOS order");
  });

  it("set_domain_type pvh clears HVM_boot_policy", async () => {
    const h = await harness();
    await h.call("VM.set_domain_type", DB.ref, "pvh");
    expect(await h.call("VM.get_record", DB.ref)).toMatchObject({ domain_type: "pvh", HVM_boot_policy: "" });
  });

  it("refuses domain_type unspecified with INVALID_VALUE", async () => {
    const h = await harness();
    const fault = await h.fault("VM.set_domain_type", DB.ref, "unspecified");
    expect([fault.code, ...fault.params]).toEqual(["INVALID_VALUE", "domain_type", "unspecified"]);
  });

  it("set_HVM_boot_policy '' turns a pvh VM into pv", async () => {
    const h = await harness();
    await h.call("VM.set_domain_type", DB.ref, "pvh");
    await h.call("VM.set_HVM_boot_policy", DB.ref, "");
    expect(await h.call("VM.get_domain_type", DB.ref)).toBe("pv");
  });

  it("set_HVM_boot_policy with any non-empty value makes the VM hvm", async () => {
    const h = await harness();
    await h.call("VM.set_HVM_boot_policy", FIXTURE.pvDirect.ref, "BIOS order");
    expect(await h.call("VM.get_domain_type", FIXTURE.pvDirect.ref)).toBe("hvm");
  });

  it("derives an unspecified domain_type at start and stores it", async () => {
    const h = await harness();
    await h.control("setFields", { uuid: DB.uuid, fields: { domain_type: "unspecified" } });
    await h.call("VM.start", DB.ref, false, false);
    expect(await h.call("VM.get_domain_type", DB.ref)).toBe("hvm");
  });
});

describe("boot-field setters", () => {
  it("work on a Running VM (no power-state check)", async () => {
    const h = await harness();
    await h.call("VM.set_PV_args", FIXTURE.web.ref, "quiet");
    await h.call("VM.set_HVM_boot_params", FIXTURE.web.ref, { order: "dc", firmware: "bios" });
    expect(await h.call("VM.get_record", FIXTURE.web.ref)).toMatchObject({
      PV_args: "quiet",
      HVM_boot_params: { order: "dc", firmware: "bios" },
    });
  });

  it("add_to / remove_from HVM_boot_params edit one key", async () => {
    const h = await harness();
    await h.call("VM.remove_from_HVM_boot_params", DB.ref, "order");
    await h.call("VM.add_to_HVM_boot_params", DB.ref, "order", "n");
    expect(await h.call("VM.get_HVM_boot_params", DB.ref)).toEqual({ firmware: "uefi", order: "n" });
  });

  it("add_to an existing key answers MAP_DUPLICATE_KEY", async () => {
    const h = await harness();
    const fault = await h.fault("VM.add_to_HVM_boot_params", DB.ref, "order", "n");
    expect([fault.code, ...fault.params]).toEqual([
      "MAP_DUPLICATE_KEY",
      "VM",
      "HVM_boot_params",
      DB.ref,
      "order",
    ]);
  });

  it("validates actions_after_crash values", async () => {
    const h = await harness();
    expect((await h.fault("VM.set_actions_after_crash", DB.ref, "explode")).code).toBe("INVALID_VALUE");
    await h.call("VM.set_actions_after_crash", DB.ref, "Preserve");
    expect(await h.call("VM.get_actions_after_crash", DB.ref)).toBe("preserve");
  });
});

describe("start-time validation (§7.4, §2.2)", () => {
  it("rejects an unknown firmware with INVALID_VALUE", async () => {
    const h = await harness();
    await h.call("VM.add_to_HVM_boot_params", FIXTURE.legacy.ref, "firmware", "coreboot");
    const fault = await h.fault("VM.start", FIXTURE.legacy.ref, false, false);
    expect([fault.code, ...fault.params]).toEqual([
      "INVALID_VALUE",
      "HVM-boot-params['firmware']",
      "coreboot",
    ]);
    expect(await h.powerState(FIXTURE.legacy.ref)).toBe("Halted");
  });

  it("rejects an unknown bootloader with INTERNAL_ERROR, not UNKNOWN_BOOTLOADER", async () => {
    const h = await harness();
    await h.call("VM.set_PV_bootloader", FIXTURE.pvDirect.ref, "/usr/bin/grub");
    expect((await h.fault("VM.start", FIXTURE.pvDirect.ref, false, false)).code).toBe("INTERNAL_ERROR");
  });

  it("rejects a direct-boot kernel outside /var/lib/xcp/guest/", async () => {
    const h = await harness();
    await h.call("VM.set_PV_kernel", FIXTURE.pvDirect.ref, "/boot/vmlinuz");
    const fault = await h.fault("VM.start", FIXTURE.pvDirect.ref, false, false);
    expect([fault.code, ...fault.params]).toEqual([
      "INVALID_VALUE",
      "kernel",
      "/boot/vmlinuz",
      "Is not in any of the allowed kernel directories: [/var/lib/xcp/guest/]",
    ]);
  });

  it("rejects actions_after_crash rename_restart with VALUE_NOT_SUPPORTED", async () => {
    const h = await harness();
    await h.call("VM.set_actions_after_crash", DB.ref, "rename_restart");
    const fault = await h.fault("VM.start", DB.ref, false, false);
    expect(fault.code).toBe("VALUE_NOT_SUPPORTED");
    expect(fault.params.slice(0, 2)).toEqual(["VM.actions_after_crash", "rename_restart"]);
  });

  it("leaves a VM Halted when a reboot meets an invalid config", async () => {
    const h = await harness();
    await h.call("VM.set_HVM_boot_params", FIXTURE.web.ref, { order: "c", firmware: "coreboot" });
    expect((await h.fault("VM.hard_reboot", FIXTURE.web.ref)).code).toBe("INVALID_VALUE");
    expect(await h.powerState(FIXTURE.web.ref)).toBe("Halted");
  });
});

describe("what the domain was built from (§7.6)", () => {
  it("records the HVM boot of a start", async () => {
    const h = await harness();
    await h.call("VM.start", DB.ref, false, false);
    const view = (await h.control("bootRecord", { uuid: DB.uuid })) as BootView;
    expect(view.bootCount).toBe(1);
    expect(view.lastBoot).toMatchObject({
      domain_type: "hvm",
      method: "hvm",
      order: "c",
      firmware: "uefi",
      via: "start",
    });
    expect(view.lastBoot?.domid).toBe(view.domid);
  });

  it("defaults the HVM boot order to cd and firmware to bios", async () => {
    const h = await harness();
    await h.call("VM.set_HVM_boot_params", FIXTURE.legacy.ref, {});
    await h.call("VM.start", FIXTURE.legacy.ref, false, false);
    const view = (await h.control("bootRecord", { uuid: FIXTURE.legacy.uuid })) as BootView;
    expect(view.lastBoot).toMatchObject({ order: "cd", firmware: "bios" });
  });

  it("records a PV direct boot's kernel and args", async () => {
    const h = await harness();
    await h.call("VM.start", FIXTURE.pvDirect.ref, false, false);
    const view = (await h.control("bootRecord", { uuid: FIXTURE.pvDirect.uuid })) as BootView;
    expect(view.lastBoot).toMatchObject({
      method: "pv-direct",
      PV_kernel: "/var/lib/xcp/guest/vmlinuz-6.1",
      PV_args: "root=/dev/xvda1 ro console=hvc0",
    });
  });

  it("reports a change made while Running as pending until a reboot applies it", async () => {
    const h = await harness();
    await h.call("VM.set_HVM_boot_params", FIXTURE.web.ref, { order: "n" });
    expect(await h.control("bootRecord", { uuid: FIXTURE.web.uuid })).toMatchObject({
      pendingBootChange: true,
    });
    await h.call("VM.clean_reboot", FIXTURE.web.ref);
    const view = (await h.control("bootRecord", { uuid: FIXTURE.web.uuid })) as BootView;
    expect(view.pendingBootChange).toBe(false);
    expect(view.lastBoot).toMatchObject({ order: "n", via: "clean_reboot" });
  });

  it("does not record a boot on resume: the suspended image keeps its config", async () => {
    const h = await harness();
    await h.call("VM.set_HVM_boot_params", FIXTURE.batch.ref, { order: "n" });
    await h.call("VM.resume", FIXTURE.batch.ref, false, false);
    const view = (await h.control("bootRecord", { uuid: FIXTURE.batch.uuid })) as BootView;
    expect(view.bootCount).toBe(1);
    expect(view.lastBoot).toMatchObject({ order: "c" });
    expect(view.pendingBootChange).toBe(true);
  });

  it("counts boots across start, reboots and hard reboots", async () => {
    const h = await harness();
    await h.call("VM.start", DB.ref, false, false);
    await h.call("VM.clean_reboot", DB.ref);
    await h.call("VM.hard_reboot", DB.ref);
    await h.call("VM.pause", DB.ref);
    await h.call("VM.unpause", DB.ref);
    expect(await h.control("bootRecord", { uuid: DB.uuid })).toMatchObject({ bootCount: 3 });
  });
});

describe("templates", () => {
  it("clones a template into a non-default template, provisions it and starts it", async () => {
    const h = await harness();
    const vm = (await h.call("VM.clone", FIXTURE.hvmTemplate.ref, "fresh")) as string;
    expect(await h.call("VM.get_record", vm)).toMatchObject({
      name_label: "fresh",
      is_a_template: true,
      is_default_template: false,
      HVM_boot_params: { order: "cd" },
    });
    await h.call("VM.provision", vm);
    await h.call("VM.set_is_a_template", vm, false);
    await h.call("VM.start", vm, false, false);
    expect(await h.powerState(vm)).toBe("Running");
  });

  it("refuses provision on a VM that is not a template", async () => {
    const h = await harness();
    const fault = await h.fault("VM.provision", DB.ref);
    expect([fault.code, ...fault.params]).toEqual(["PROVISION_ONLY_ALLOWED_ON_TEMPLATE"]);
  });

  it("destroys a non-default template", async () => {
    const h = await harness();
    const vm = (await h.call("VM.clone", FIXTURE.pvTemplate.ref, "mine")) as string;
    await h.call("VM.destroy", vm);
    expect(await h.call("VM.get_by_name_label", "mine")).toEqual([]);
  });

  it("refuses to make a running VM a template", async () => {
    const h = await harness();
    const fault = await h.fault("VM.set_is_a_template", FIXTURE.web.ref, true);
    expect([fault.code, ...fault.params]).toEqual([
      "VM_BAD_POWER_STATE",
      FIXTURE.web.ref,
      "halted",
      "running",
    ]);
  });
});
