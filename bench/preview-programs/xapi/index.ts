// `npm run bench -- --pulumi`, program A: BENCH_PREVIEW_COUNT `xapi.Vm`s on one pool (xapi-sim), all
// declared as `pulumi up` left them, so that a preview has nothing to do. See bench/pulumi.ts.
// The package by its path (not "pulumi-xapi"): the build compiles this program, and the package's
// dist/*.d.ts must not become inputs of that build. The provider process still loads "pulumi-xapi".
import * as xapi from "../../../provider";

const count = Number(process.env.BENCH_PREVIEW_COUNT ?? "1000");
for (let i = 0; i < count; i++) {
  new xapi.Vm(`vm-${i}`, {
    template: "Other install media",
    powerState: "Running",
    hvm: { bootParams: { order: "cd" } },
  });
}
