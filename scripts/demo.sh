#!/usr/bin/env bash
# npm run demo: the root program (Pulumi.yaml → examples/quickstart/) against xapi-sim, in two steps.
#
#   1. create a VM (Running, boot order "cd"): `pulumi up`, then the calls that reached the pool;
#   2. change its boot order to "dc" and its power state to Paused: what `pulumi preview --diff` says it
#      will do (the plannedCalls), `pulumi up`, the calls that reached the pool, and whether they are the
#      planned ones, in the planned order.
#
# Every run starts over: a fresh xapi-sim (in memory, nothing persisted) and a fresh stack, so a second
# run tells the same story. Everything it writes is under .tmp/demo/ (gitignored): the stack's config and
# state (local file backend, passphrase secrets provider), PULUMI_HOME, each command's full output.
# Needs the Pulumi CLI (scripts/pulumi-cli.sh builds it the first time) and dist/ (built only when a
# source is newer: scripts/build-if-stale.js).
set -euo pipefail

started_ms=$(date +%s%3N)
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
demo_dir="${repo_root}/.tmp/demo"
rel_demo_dir=${demo_dir#"$repo_root"/}
stack=demo

title() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
report() { node scripts/demo-report.js "$@"; }
# seconds_since <epoch-ms>: "12.3"
seconds_since() {
	local ms=$(($(date +%s%3N) - $1))
	printf '%d.%d' $((ms / 1000)) $(((ms % 1000) / 100))
}

title "Getting ready: Pulumi CLI, dist/, a fresh xapi-sim and a fresh stack"
# Quietly when the CLI is already there; with the build's progress the first time (minutes).
bin_dir=$(bash scripts/pulumi-cli.sh --print-bin-dir --no-build 2>/dev/null) ||
	bin_dir=$(bash scripts/pulumi-cli.sh --print-bin-dir)
export PATH="${bin_dir}:${PATH}"
say "Pulumi CLI in ${bin_dir}"
say "$(node scripts/build-if-stale.js)"
# `npm ci` links node_modules/pulumi-xapi to this checkout (the program imports "pulumi-xapi"); after an
# install with --ignore-scripts it is missing.
[[ -e node_modules/pulumi-xapi ]] || node scripts/link-self.js

rm -rf "$demo_dir"
mkdir -p "$demo_dir/project" "$demo_dir/backend" "$demo_dir/pulumi-home"

# xapi-sim starts in the background while the stack is created.
sim_log="$demo_dir/xapi-sim.log"
node dist/simulator/cli.js --port 0 --no-member >"$sim_log" 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true' EXIT

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
# No type check of the program on each run (seconds saved); `npm run typecheck` checks it.
export PULUMI_NODEJS_TRANSPILE_ONLY=true
unset PULUMI_ACCESS_TOKEN PULUMI_STACK

# pulumi_to <log-name> <args…>: runs `pulumi <args>` in the project, its output in .tmp/demo/<log-name>.txt;
# on failure prints that output and stops.
pulumi_to() {
	local log="$demo_dir/$1.txt" start_ms
	shift
	start_ms=$(date +%s%3N)
	printf '   $ pulumi %s' "$*"
	if ! (cd "$demo_dir/project" && pulumi "$@" --non-interactive --color never) >"$log" 2>&1; then
		printf '\n'
		echo "demo: \`pulumi $*\` failed:" >&2
		cat "$log" >&2
		exit 1
	fi
	printf '   (%s s)\n' "$(seconds_since "$start_ms")"
}
# The "Resources:" summary of a `pulumi up` output.
summary() { sed -n '/^Resources:/,/^Duration/p' "$demo_dir/$1.txt" | grep -v '^\s*$\|^Duration' | sed 's/^/   /'; }

pulumi_to stack-init stack init "$stack" --secrets-provider passphrase

# Meanwhile xapi-sim has been starting: its URL goes into the stack's config.
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
say "xapi-sim on ${sim_url}: a simulated XCP-ng pool, fresh (its own VMs and templates only)"
pulumi_to config-pool config set-all --plaintext "xapi:url=${sim_url}" --plaintext xapi:username=root \
	--secret xapi:password=xapi-sim
say "(stack \"${stack}\": config, state and PULUMI_HOME in ${rel_demo_dir}/)"

# The call-log position already reported (scripts/demo-report.js moves it on).
seq_file="$demo_dir/call-log-seq"

title "Step 1: create a VM (Running, boot order \"cd\" = disk first)"
pulumi_to 1-up up --yes --skip-preview
summary 1-up
# The stack output `uuid` (from the up's "Outputs:"; saves a `pulumi stack output` run).
uuid=$(sed -n 's/^ *uuid *: *"\([0-9a-f-]\{36\}\)"$/\1/p' "$demo_dir/1-up.txt" | head -n1)
[[ -n "$uuid" ]] || {
	echo "demo: no uuid output in ${rel_demo_dir}/1-up.txt" >&2
	exit 1
}
report after "$sim_url" "$seq_file" "$uuid"

title "Step 2: change its boot order to \"dc\" (CD-ROM first) and pause it"
pulumi_to config-change config set-all --plaintext bootOrder=dc --plaintext powerState=Paused
pulumi_to 2-preview preview --diff
printf '\nWhat pulumi preview says it will do (plannedCalls of `pulumi preview --diff`):\n'
report plan "$sim_url" "$seq_file" "$demo_dir/2-preview.txt"
printf '\n'
pulumi_to 2-up up --yes --skip-preview
summary 2-up
report after "$sim_url" "$seq_file" "$uuid" "$demo_dir/2-preview.txt"

title "Done in $(seconds_since "$started_ms") s"
say "Full outputs: ${rel_demo_dir}/*.txt. Run again to replay from a fresh pool."
