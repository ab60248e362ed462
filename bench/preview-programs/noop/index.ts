// `npm run bench -- --pulumi`, program B (the baseline): BENCH_PREVIEW_COUNT dynamic resources whose
// provider does nothing, so a preview costs only the engine and the dynamic-provider host. See bench/pulumi.ts.
import * as pulumi from "@pulumi/pulumi";

const provider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    return { id: `noop-${String(inputs.index)}`, outs: inputs };
  },
};

class Noop extends pulumi.dynamic.Resource {
  constructor(name: string, props: { index: number }) {
    super(provider, name, props);
  }
}

const count = Number(process.env.BENCH_PREVIEW_COUNT ?? "1000");
for (let i = 0; i < count; i++) new Noop(`noop-${i}`, { index: i });
