#!/usr/bin/env bash
# npm run demo: `pulumi up` of the root program (Pulumi.yaml → examples/quickstart/) against xapi-sim.
#
#   1. makes sure a Pulumi CLI is available (scripts/pulumi-cli.sh; builds it the first time);
#   2. builds the project (npm run build);
#   3. starts xapi-sim on a free loopback port with its state in .tmp/demo/xapi-sim.json;
#   4. runs `pulumi up --yes --refresh` of the root program on stack "demo", with a local file backend and
#      a passphrase secrets provider, both in .tmp/demo/ (gitignored);
#   5. prints the stack outputs, the VMs the simulator holds and the XenAPI calls this run made;
#   6. stops the simulator.
# Non-interactive and idempotent: a second run finds everything in place and changes nothing.
# Reset: rm -rf .tmp/demo
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
demo_dir="${repo_root}/.tmp/demo"
stack=demo
mkdir -p "$demo_dir/project" "$demo_dir/backend" "$demo_dir/pulumi-home"

step() { printf '\n== %s\n' "$*"; }

step "Pulumi CLI"
bin_dir=$(bash scripts/pulumi-cli.sh --print-bin-dir)
export PATH="${bin_dir}:${PATH}"
echo "pulumi $(pulumi version) from ${bin_dir}"

step "npm run build"
npm run --silent build

step "xapi-sim"
sim_log="$demo_dir/xapi-sim.log"
node dist/simulator/cli.js --port 0 --no-member --state "$demo_dir/xapi-sim.json" >"$sim_log" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true' EXIT
sim_url=""
for _ in $(seq 1 100); do
	sim_url=$(sed -n 's/^xapi-sim listening on \(.*\)$/\1/p' "$sim_log" | head -n1)
	[[ -n "$sim_url" ]] && break
	kill -0 "$sim_pid" 2>/dev/null || break
	sleep 0.1
done
if [[ -z "$sim_url" ]]; then
	echo "demo: xapi-sim did not start:" >&2
	cat "$sim_log" >&2
	exit 1
fi
echo "xapi-sim listening on ${sim_url} (state: ${demo_dir#"$repo_root"/}/xapi-sim.json)"

# Calls the simulator's control API: sim_control <op> [json-body]; prints the JSON result.
sim_control() {
	SIM_URL="$sim_url" node -e '
		const [op, body] = process.argv.slice(1);
		fetch(`${process.env.SIM_URL}/_sim/${op}`, { method: "POST", headers: { "content-type": "application/json" }, body: body ?? "{}" })
			.then(async (r) => { const j = await r.json(); if (!r.ok || j.error) throw new Error(`${op}: ${j.error ?? r.status}`); console.log(JSON.stringify(j.result)); })
			.catch((e) => { console.error(`demo: ${e.message}`); process.exit(1); });
	' "$@"
}

# The root Pulumi.yaml with an absolute `main`, in a project directory of its own: the stack's config
# file (with the passphrase salt) then lives in .tmp/demo/project, not in the repository root.
sed "s|^main: *\(.*\)$|main: ${repo_root}/\1|" Pulumi.yaml >"$demo_dir/project/Pulumi.yaml"
grep -q "^main: ${repo_root}/" "$demo_dir/project/Pulumi.yaml" || {
	echo "demo: Pulumi.yaml has no 'main:' line to point at" >&2
	exit 1
}

export PULUMI_HOME="$demo_dir/pulumi-home"
export PULUMI_BACKEND_URL="file://$demo_dir/backend"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-demo}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
run_pulumi() { (cd "$demo_dir/project" && pulumi "$@" --non-interactive); }

step "pulumi stack ${stack} (backend ${PULUMI_BACKEND_URL#file://"$repo_root"/})"
run_pulumi stack select "$stack" --create --secrets-provider passphrase
run_pulumi config set --stack "$stack" xapi:url "$sim_url"
run_pulumi config set --stack "$stack" xapi:username root
run_pulumi config set --stack "$stack" --secret xapi:password xapi-sim

seq_before=$(sim_control callLog | node -e 'let s="";process.stdin.on("data",(d)=>{s+=d}).on("end",()=>{const l=JSON.parse(s);console.log(l.length?l[l.length-1].seq:0)})')

step "pulumi up --yes --refresh --run-program"
run_pulumi up --yes --refresh --run-program --stack "$stack"

step "stack outputs"
run_pulumi stack output --json --stack "$stack"

step "VMs in xapi-sim"
sim_control vms | node -e '
	let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
		for (const vm of JSON.parse(s).filter((v) => !v.is_a_template))
			console.log(`${vm.uuid}  ${vm.power_state.padEnd(9)}  ${vm.name_label}`);
	});'

step "XenAPI calls made by this run (xapi-sim call log)"
sim_control callLog "{\"since\": ${seq_before}}" | node -e '
	let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
		const log = JSON.parse(s);
		if (log.length === 0) console.log("(none: everything was already in place)");
		for (const c of log)
			console.log(`${String(c.seq).padStart(4)}  ${c.method}${c.vm ? ` vm=${c.vm}` : ""}${c.ok ? "" : `  -> ${c.error}`}`);
	});'

step "done (state in ${demo_dir#"$repo_root"/}; rm -rf it to start over)"
