#!/usr/bin/env bash
# Makes the Pulumi CLI usable offline: `pulumi`, `pulumi-language-nodejs` and
# `pulumi-resource-pulumi-nodejs` in one bin directory.
#
# `pulumi`, in order of preference:
#   1. a `pulumi` already on PATH (version >= the pinned one), unless --build;
#   2. a previous build in the cache directory (seconds: "already built");
#   3. a build of github.com/pulumi/pulumi/pkg/v3 from the Go module proxy, in a scratch directory
#      outside the repository (about 4 minutes and 3.5 GB on 2 cores the first time).
# `pulumi-language-nodejs`: the official one next to a `pulumi` found on PATH, if any; otherwise the
#   official Go host built from github.com/pulumi/pulumi/sdk/v3@v3.68.0, the last sdk/v3 release whose
#   module still contains nodejs/cmd/pulumi-language-nodejs (later releases moved it to its own module,
#   github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, which the Go proxy here refuses
#   with 403 "This module version is not available"). It speaks the same LanguageRuntime protocol and
#   runs the project's own @pulumi/pulumi 3.248 `cmd/run`; the e2e suite proves the pairing.
# `pulumi-resource-pulumi-nodejs`: always copied from this project's node_modules/@pulumi/pulumi.
#
# Usage: scripts/pulumi-cli.sh [--print-bin-dir] [--build | --no-build]
#   --print-bin-dir  print only the bin directory on stdout (progress goes to stderr)
#   --build          ignore a `pulumi` on PATH and use/build the cached one
#   --no-build       fail (exit 3) instead of building when no CLI is available (for tests)
# Environment:
#   PULUMI_XAPI_CLI_CACHE  cache root (default: $HOME/.cache/pulumi-xapi/cli/v<version>)
#   GOPROXY, GOMODCACHE, GOCACHE  as usual for Go
# Nothing this script downloads or builds lives inside the repository.
set -euo pipefail

readonly PULUMI_VERSION=3.248.0
readonly MOD_PKG=github.com/pulumi/pulumi/pkg/v3
readonly MOD_SDK=github.com/pulumi/pulumi/sdk/v3
# The last sdk/v3 release that still ships the official Node.js language host inside the module.
readonly LANGHOST_SDK_VERSION=3.68.0

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${PULUMI_XAPI_CLI_CACHE:-${HOME}/.cache/pulumi-xapi/cli/v${PULUMI_VERSION}}
bin_dir="${cache_root}/bin"
stamp="${bin_dir}/.built-v${PULUMI_VERSION}-langhost-v${LANGHOST_SDK_VERSION}"

print_bin_dir=false
force_build=false
no_build=false
for arg in "$@"; do
	case "$arg" in
	--print-bin-dir) print_bin_dir=true ;;
	--build) force_build=true ;;
	--no-build) no_build=true ;;
	-h | --help)
		sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "pulumi-cli.sh: unknown argument: $arg (try --help)" >&2
		exit 2
		;;
	esac
done

log() { echo "pulumi-cli.sh: $*" >&2; }
die() {
	echo "pulumi-cli.sh: ERROR: $*" >&2
	exit 1
}

# Copies the dynamic-provider plugin script from @pulumi/pulumi into $1 (made executable).
install_dynamic_provider() {
	local src="${repo_root}/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
	[[ -f "$src" ]] || die "missing $src: run 'npm ci' in ${repo_root} first"
	mkdir -p "$1"
	# A private temp name + rename: concurrent runs (parallel test files) never see a half-written file.
	cp "$src" "$1/pulumi-resource-pulumi-nodejs.tmp.$$"
	chmod +x "$1/pulumi-resource-pulumi-nodejs.tmp.$$"
	mv -f "$1/pulumi-resource-pulumi-nodejs.tmp.$$" "$1/pulumi-resource-pulumi-nodejs"
}

# True when version $1 (x.y.z, optional leading v and -suffix) >= $2.
version_at_least() {
	local a=${1#v} b=${2#v}
	a=${a%%-*}
	a=${a%%+*}
	[[ "$(printf '%s\n%s\n' "$b" "$a" | sort -V | head -n1)" == "$b" ]]
}

finish() {
	install_dynamic_provider "$bin_dir"
	if $print_bin_dir; then
		echo "$bin_dir"
	else
		log "bin dir: $bin_dir"
		log "use: export PATH=\"$bin_dir:\$PATH\""
	fi
	exit 0
}

# 1. A usable `pulumi` on PATH: link it (and its language host) into the bin dir so callers get one dir.
if ! $force_build && command -v pulumi >/dev/null 2>&1; then
	existing=$(command -v pulumi)
	existing_dir=$(dirname "$(readlink -f "$existing")")
	if [[ "$existing_dir" != "$(readlink -f "$bin_dir" 2>/dev/null || true)" ]]; then
		existing_version=$(pulumi version 2>/dev/null | tr -d '[:space:]' || true)
		if [[ -n "$existing_version" ]] && version_at_least "$existing_version" "$PULUMI_VERSION"; then
			log "using pulumi ${existing_version} already on PATH ($existing)"
			bin_dir="${cache_root}/bin-from-path"
			rm -rf "$bin_dir"
			mkdir -p "$bin_dir"
			ln -s "$existing" "$bin_dir/pulumi"
			langhost=$(command -v pulumi-language-nodejs 2>/dev/null || true)
			[[ -z "$langhost" && -x "$existing_dir/pulumi-language-nodejs" ]] && langhost="$existing_dir/pulumi-language-nodejs"
			[[ -n "$langhost" ]] && ln -s "$langhost" "$bin_dir/pulumi-language-nodejs"
			finish
		fi
		log "ignoring pulumi on PATH ($existing, version '${existing_version:-unknown}'): need >= v${PULUMI_VERSION}"
	fi
fi

# 2. A previous build.
if [[ -f "$stamp" && -x "$bin_dir/pulumi" ]]; then
	log "already built: $("$bin_dir/pulumi" version) in $bin_dir"
	finish
fi

# 3. Build from Go modules.
if $no_build; then
	echo "pulumi-cli.sh: no Pulumi CLI: none >= v${PULUMI_VERSION} on PATH and none built in $bin_dir; run scripts/pulumi-cli.sh to build it from Go modules (about 4 minutes and 3.5 GB the first time)" >&2
	exit 3
fi
command -v go >/dev/null 2>&1 ||
	die "Go is not installed (need Go >= 1.25 and the Go module proxy): install Go, or put a pulumi CLI >= v${PULUMI_VERSION} on PATH"
# Never let the go command fetch a different toolchain: use the local one or fail clearly.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -mod=mod"
log "building pulumi v${PULUMI_VERSION} from Go modules with $(go version) (GOPROXY=$(go env GOPROXY))"
mkdir -p "$cache_root"
# The Go module and build caches take ~3.2 GB and the output ~0.2 GB: refuse to start without 4 GB free.
for dir in "$cache_root" "$(go env GOMODCACHE)" "$(go env GOCACHE)"; do
	mkdir -p "$dir"
	free_kb=$(df -Pk "$dir" | awk 'NR==2 {print $4}')
	((free_kb >= 4 * 1024 * 1024)) ||
		die "only $((free_kb / 1024)) MB free at $dir; the build needs ~4 GB (Go module cache, build cache, binary)"
done
log "free disk: $(df -h "$cache_root" | awk 'NR==2 {print $4}') at $cache_root; the build takes ~3.5 GB"
start=$(date +%s)

work="${cache_root}/src"
rm -rf "$work"
mkdir -p "$work"

# Prints the module cache directory of module $1 at version $2, downloading it through the proxy.
module_dir() {
	local json dir
	if ! json=$(cd "$work" && go mod download -json "$1@$2" 2>&1); then
		die "'go mod download $1@$2' failed (is the Go module proxy reachable? GOPROXY=$(go env GOPROXY)):
$json"
	fi
	dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' | head -n1)
	[[ -n "$dir" && -d "$dir" ]] || die "'go mod download $1@$2' gave no module directory:
$json"
	printf '%s\n' "$dir"
}

out="${cache_root}/bin.tmp"
rm -rf "$out"
mkdir -p "$out"

if [[ -x "$bin_dir/pulumi" && "$("$bin_dir/pulumi" version 2>/dev/null)" == "v${PULUMI_VERSION}" ]]; then
	# An earlier build of the same CLI (e.g. before the language host was added): keep it.
	log "reusing pulumi v${PULUMI_VERSION} already in $bin_dir"
	cp "$bin_dir/pulumi" "$out/pulumi"
else
	# Same layout as the pulumi repository, so pkg's relative `replace` of sdk resolves.
	log "downloading ${MOD_PKG}@v${PULUMI_VERSION} and ${MOD_SDK}@v${PULUMI_VERSION}"
	pkg_dir=$(module_dir "$MOD_PKG" "v${PULUMI_VERSION}")
	sdk_dir=$(module_dir "$MOD_SDK" "v${PULUMI_VERSION}")
	cp -R "$pkg_dir" "$work/pkg"
	cp -R "$sdk_dir" "$work/sdk"
	chmod -R u+w "$work"
	ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${PULUMI_VERSION}"
	log "compiling pulumi (about 4 minutes on 2 cores the first time)"
	(cd "$work/pkg" && go build -trimpath -tags osusergo,grpcnotrace -ldflags "$ldflags" -o "$out/pulumi" ./cmd/pulumi) ||
		die "build of pulumi failed (command: cd $work/pkg && go build ./cmd/pulumi)"
fi

# The official Node.js language host, from the sdk/v3 module that still contains it. Its go.mod has a
# `replace` of golang.org/x/text, so it is built as the main module of a writable copy, not `go install`ed.
log "downloading ${MOD_SDK}@v${LANGHOST_SDK_VERSION} (official pulumi-language-nodejs)"
lh_src=$(module_dir "$MOD_SDK" "v${LANGHOST_SDK_VERSION}")
rm -rf "$work/sdk-langhost"
cp -R "$lh_src" "$work/sdk-langhost"
chmod -R u+w "$work/sdk-langhost"
log "compiling pulumi-language-nodejs v${LANGHOST_SDK_VERSION} (about 30 s)"
(cd "$work/sdk-langhost" && go build -trimpath -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v${LANGHOST_SDK_VERSION}" \
	-o "$out/pulumi-language-nodejs" ./nodejs/cmd/pulumi-language-nodejs) ||
	die "build of pulumi-language-nodejs failed (command: cd $work/sdk-langhost && go build ./nodejs/cmd/pulumi-language-nodejs)"

"$out/pulumi" version >/dev/null || die "the built pulumi does not run"
rm -rf "$bin_dir"
mv "$out" "$bin_dir"
touch "$stamp"
rm -rf "$work"
log "built pulumi $("$bin_dir/pulumi" version) in $(($(date +%s) - start)) s"
finish
