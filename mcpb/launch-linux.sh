#!/bin/sh
# Linux entry point of the Claude Desktop bundle (.mcpb). A bundle manifest
# picks a command per OS but not per CPU, so on Linux this picks the binary
# for the machine. stdout is the MCP protocol: errors go to stderr only. A
# client may start it without PATH, hence the fallback.
PATH=${PATH:-/usr/bin:/bin}
case $(uname -m) in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*)
	echo "influx-token-mcp: this bundle has no Linux binary for CPU $(uname -m); build from source: go install github.com/tokenaudit/influx-token-mcp@latest" >&2
	exit 1
	;;
esac
exec "${0%/*}/influx-token-mcp-$arch" "$@"
