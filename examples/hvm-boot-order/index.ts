// Change the boot order of a running HVM VM: `pulumi config set order dc && pulumi preview --diff`
// shows VM.set_HVM_boot_params then VM.clean_reboot, because a live domain only picks up boot
// changes when it is rebuilt. With `pulumi config set bootChanges next-boot` the preview shows the
// setter alone and the change is reported in `pendingBootChanges` until the next reboot.
import * as pulumi from "@pulumi/pulumi";
import * as xapi from "pulumi-xapi";

const config = new pulumi.Config();

const vm = new xapi.Vm("hvm-boot-order", {
  template: config.get("template") ?? "Other install media",
  nameLabel: "hvm-boot-order",
  powerState: "Running",
  hvm: { bootParams: { order: config.get("order") ?? "cd" } },
  policy: { bootChanges: config.get("bootChanges") === "next-boot" ? "next-boot" : "restart" },
});

export const uuid = vm.uuid;
export const bootOrder = vm.effectiveBoot.apply((b) => b.hvm?.bootParams.order);
export const pendingBootChanges = vm.pendingBootChanges;
export const lastCalls = vm.lastCalls.apply((calls) => calls.map((c) => c.call));
