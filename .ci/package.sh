#!/usr/bin/env bash
# Packaging checks, run by .ci/run: the goreleaser config, a snapshot release
# into dist/ (archives, checksums, the Claude Desktop bundle, server.json),
# the bundle's manifest, server.json against the MCP Registry's schema, and
# the bundle's server started as its manifest says against the real InfluxDB
# handlers of integration/. Needs go, node and npm; installs goreleaser and
# the mcpb CLI into a cache directory (only the Go module proxy and the npm
# registry are used).
set -euo pipefail
cd "$(dirname "$0")/.."

goreleaser_version=v2.15.1
mcpb_version=2.1.2
cache="${XDG_CACHE_HOME:-$HOME/.cache}/influx-token-mcp-ci"
step() { printf '\n-- %s (%ss)\n' "$1" "$SECONDS"; }

step "install goreleaser $goreleaser_version and @anthropic-ai/mcpb $mcpb_version into $cache"
mkdir -p "$cache/bin"
if ! "$cache/bin/goreleaser" --version 2>/dev/null | grep -q "GitVersion: *v\?${goreleaser_version#v}\$"; then
	GOBIN="$cache/bin" go install "github.com/goreleaser/goreleaser/v2@$goreleaser_version"
fi
if [ "$(node -p "require('$cache/mcpb/node_modules/@anthropic-ai/mcpb/package.json').version" 2>/dev/null)" != "$mcpb_version" ]; then
	npm install --silent --no-audit --no-fund --prefix "$cache/mcpb" "@anthropic-ai/mcpb@$mcpb_version"
fi
export PATH="$cache/bin:$cache/mcpb/node_modules/.bin:$PATH"
goreleaser --version | grep GitVersion
mcpb --version

step "goreleaser check; mcpb validate on the bundle manifest"
goreleaser check
mcpb validate mcpb/manifest.json

step "goreleaser release --snapshot --clean"
goreleaser release --snapshot --clean
version=$(node -p 'require("./dist/metadata.json").version')
commit=$(node -p 'require("./dist/metadata.json").commit')

step "archives, checksums, stamped version"
(cd dist && sha256sum --check --strict checksums.txt)
for target in linux_amd64 linux_arm64 darwin_amd64 darwin_arm64 windows_amd64 windows_arm64; do
	base="dist/influx-token-mcp_${version}_${target}"
	case $target in
	windows_*) contents=$(unzip -Z1 "$base.zip" | sort | tr '\n' ' ') bin=influx-token-mcp.exe ;;
	*) contents=$(tar -tzf "$base.tar.gz" | sort | tr '\n' ' ') bin=influx-token-mcp ;;
	esac
	want=$(printf '%s\n' CHANGELOG.md LICENSE README.md "$bin" | sort | tr '\n' ' ')
	[ "$contents" = "$want" ] || { echo "$base: holds $contents, want $want"; exit 1; }
	grep -q " $(basename "$base")\.\(tar\.gz\|zip\)\$" dist/checksums.txt || { echo "checksums.txt lacks $base"; exit 1; }
done
bundle="dist/influx-token-mcp_${version}.mcpb"
grep -q " $(basename "$bundle")\$" dist/checksums.txt || { echo "checksums.txt lacks $bundle"; exit 1; }
got=$(dist/influx-token-mcp_linux_amd64_v1/influx-token-mcp --version)
echo "$got"
case "$got" in
"influx-token-mcp $version (commit $commit, "*) ;;
*) echo "--version of the release binary: want version $version and commit $commit"; exit 1 ;;
esac

step "mcpb validate on the built bundle"
unpacked=$(mktemp -d)
trap 'rm -rf "$unpacked"' EXIT
mcpb unpack "$bundle" "$unpacked" >/dev/null
mcpb validate "$unpacked/manifest.json"
mcpb info "$bundle"

step "server.json and the release's dist/server.json against the MCP Registry schema"
RELEASE_SERVER_JSON=dist/server.json go test -count=1 -run 'ServerJSON|RegistrySchema' -v . | grep -E '^(---|ok|FAIL)'

step "the bundle's server, started as its manifest says, lists tokens from the real InfluxDB handlers"
(cd integration && ./prepare-flux.sh && go build -o "$unpacked/influx-testserver" ./cmd/influx-testserver)
MCPB_DIR="$cache/mcpb" node .ci/mcpb-bundle-test.mjs "$bundle" "$unpacked/influx-testserver"
