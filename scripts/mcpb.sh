#!/usr/bin/env bash
# Builds the Claude Desktop bundle (.mcpb) and the MCP Registry entry of a
# release from goreleaser's binaries. .goreleaser.yaml calls it:
#
#   scripts/mcpb.sh stage <goos> <goarch> <binary>
#       after each build: copies the binary into the bundle tree dist/mcpb/
#   scripts/mcpb.sh pack <version> <tag> <macOS universal binary>
#       after the universal binary (all builds are done by then): completes
#       the tree, writes dist/influx-token-mcp_<version>.mcpb and
#       dist/server.json (server.json with this release's version, download
#       URL and the bundle's SHA-256)
#
# One bundle for every platform: a manifest can pick a command per OS but
# not per CPU, so macOS gets a universal binary, Windows the amd64 binary
# (Windows 11 on Arm runs it emulated) and Linux a launcher that picks amd64
# or arm64 (mcpb/launch-linux.sh).
#
# MCPB names the mcpb CLI (@anthropic-ai/mcpb 2.1.2); default: mcpb on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

repo_url=https://github.com/tokenaudit/influx-token-mcp
tree=dist/mcpb

case "${1:-}" in
stage)
	goos=$2 goarch=$3 bin=$4
	case "$goos/$goarch" in
	linux/amd64 | linux/arm64)
		mkdir -p "$tree/server/linux"
		cp "$bin" "$tree/server/linux/influx-token-mcp-$goarch"
		;;
	windows/amd64)
		mkdir -p "$tree/server/windows"
		cp "$bin" "$tree/server/windows/influx-token-mcp.exe"
		;;
	*) ;; # macOS: the universal binary comes with pack; Windows arm64 runs amd64
	esac
	;;
pack)
	version=$2 tag=$3 universal=$4
	mkdir -p "$tree/server/darwin"
	cp "$universal" "$tree/server/darwin/influx-token-mcp"
	cp mcpb/launch-linux.sh "$tree/server/linux/launch.sh"
	cp README.md LICENSE "$tree/"
	for f in server/linux/influx-token-mcp-amd64 server/linux/influx-token-mcp-arm64 \
		server/windows/influx-token-mcp.exe server/darwin/influx-token-mcp; do
		[ -f "$tree/$f" ] || { echo "mcpb.sh: $tree/$f is missing: was it built?" >&2; exit 1; }
	done

	node -e '
		const fs = require("fs");
		const [src, dst, version] = process.argv.slice(1);
		const m = JSON.parse(fs.readFileSync(src, "utf8"));
		m.version = version;
		fs.writeFileSync(dst, JSON.stringify(m, null, 2) + "\n");
	' mcpb/manifest.json "$tree/manifest.json" "$version"

	bundle="dist/influx-token-mcp_${version}.mcpb"
	${MCPB:-mcpb} pack "$tree" "$bundle" >/dev/null
	sha=$(sha256sum "$bundle" | cut -d' ' -f1)

	node -e '
		const fs = require("fs");
		const [src, dst, version, url, sha] = process.argv.slice(1);
		const s = JSON.parse(fs.readFileSync(src, "utf8"));
		s.version = version;
		for (const p of s.packages) {
			if (p.registryType === "mcpb") {
				p.identifier = url;
				p.version = version;
				p.fileSha256 = sha;
			}
		}
		fs.writeFileSync(dst, JSON.stringify(s, null, 2) + "\n");
	' server.json dist/server.json "$version" "$repo_url/releases/download/$tag/$(basename "$bundle")" "$sha"
	echo "mcpb.sh: wrote $bundle (sha256 $sha) and dist/server.json" >&2
	;;
*)
	echo "usage: scripts/mcpb.sh stage <goos> <goarch> <binary> | pack <version> <tag> <universal binary>" >&2
	exit 2
	;;
esac
