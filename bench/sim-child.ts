/**
 * xapi-sim in its own process for the benchmark, so the benchmark process's CPU time is the client's
 * alone. argv[2] is the JSON of the start options; prints one JSON line `{"url": …}` when listening;
 * exits when stdin closes (the parent went away) or on SIGTERM.
 */
import { type StartOptions, startSimulator } from "../simulator";

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? "{}") as StartOptions;
  const sim = await startSimulator({ port: 0, member: false, ...options });
  process.stdout.write(`${JSON.stringify({ url: sim.url })}\n`);
  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
  process.on("SIGTERM", stop);
}

void main().catch((error: unknown) => {
  process.stderr.write(`sim-child: ${String(error)}\n`);
  process.exit(1);
});
