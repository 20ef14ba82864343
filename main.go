// Command influx-token-mcp is an MCP server, started over stdio by an AI
// assistant, that audits InfluxDB API tokens read-only.
package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/caarlos0/env/v11"
	"golang.org/x/net/http/httpproxy"

	"github.com/tokenaudit/influx-token-mcp/influx"
	"github.com/tokenaudit/influx-token-mcp/tools"
)

const usage = `influx-token-mcp: an MCP server (stdio) that lets AI assistants audit InfluxDB API tokens.

Usage: influx-token-mcp [--help | --version]

It is started by an MCP client (Claude Desktop, an IDE, the MCP Inspector) and
speaks JSON-RPC on stdin/stdout; logs go to stderr. Configuration comes from
the environment, else from the influx CLI's active profile (field by field):

  INFLUX_HOST         InfluxDB base URL, e.g. http://localhost:8086
  INFLUX_TOKEN        API token with read:authorizations, and read:users to see
                      other users' tokens (or INFLUX_TOKEN_FILE)
  INFLUX_TOKEN_FILE   file holding the token, instead of INFLUX_TOKEN
  INFLUX_ORG          default org name for list_tokens
  INFLUX_ORG_ID       default org ID for list_tokens (not with INFLUX_ORG)
  INFLUX_TIMEOUT      per-request timeout, default 30s; a tool call gets 3 times it
  INFLUX_CACHE_TTL    how long token, bucket, org and user lists are reused, default
                      30s; 0 asks InfluxDB on every call
  INFLUX_SKIP_VERIFY  true skips TLS certificate checks (unsafe), default false
  INFLUX_LOG_LEVEL    debug, info, warn or error, default info
  INFLUX_CONFIGS_PATH influx CLI configs file, default ~/.influxdbv2/configs;
                      read when INFLUX_HOST or a token is not set, or when
                      INFLUX_CONFIGS_PATH or INFLUX_ACTIVE_CONFIG is set
  INFLUX_ACTIVE_CONFIG  profile to use, default the one with active = true
`

func main() {
	os.Exit(run(os.Args[1:], env.ToMap(os.Environ()), os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, environ map[string]string, stdin io.Reader, stdout, stderr io.Writer) int {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help":
			fmt.Fprint(stdout, usage)
			return 0
		case "-version", "--version":
			fmt.Fprintln(stdout, versionLine(buildInfo()))
			return 0
		default:
			fmt.Fprintf(stderr, "influx-token-mcp: unknown argument %q; it takes only --help or --version (configuration is in the environment)\n", a)
			return 1
		}
	}

	cfg, err := influx.LoadConfig(environ)
	if err != nil {
		fmt.Fprintln(stderr, "influx-token-mcp:", err)
		return 1
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	proxy := proxyFromEnvironment(environ)
	client, err := influx.New(influx.Options{
		Host:       cfg.Host,
		Token:      cfg.Token,
		Timeout:    cfg.Timeout,
		SkipVerify: cfg.SkipVerify,
		Proxy:      proxy,
		UserAgent:  "influx-token-mcp/" + releaseVersion(buildInfo()) + " (+https://github.com/tokenaudit/influx-token-mcp)",
	})
	if err != nil {
		fmt.Fprintln(stderr, "influx-token-mcp:", err)
		return 1
	}
	// The calls of one audit share InfluxDB's token list for a while.
	lists := influx.NewListCache(cfg.CacheTTL, influx.DefaultCacheBudget)
	srv := tools.NewServer(lists.Client(client), tools.Settings{
		Host:             cfg.Host,
		DefaultOrg:       cfg.Org,
		DefaultOrgID:     cfg.OrgID,
		DefaultOrgSource: orgSource(cfg.Source),
		Timeout:          cfg.Timeout,
	}, releaseVersion(buildInfo()), logger)

	logger.Info("starting", "version", versionLine(buildInfo()), "host", cfg.Host, "token_set", true, "skip_verify", cfg.SkipVerify, "cache_ttl", cfg.CacheTTL, "config", cfg.Source)
	logProxy(logger, cfg.Host, proxy)
	if cfg.SkipVerify {
		logger.Warn("INFLUX_SKIP_VERIFY=true: TLS certificates are not checked; anyone on the network path can read the token")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := tools.Serve(ctx, srv, stdin, stdout, logger); err != nil {
		logger.Error("stdio server stopped", "err", err)
		return 1
	}
	return 0
}

// proxyFromEnvironment picks the proxy for a URL as Go does by default
// (HTTP_PROXY, HTTPS_PROXY, NO_PROXY and their lower-case forms; never for
// localhost), from the same environment as the rest of the configuration.
func proxyFromEnvironment(env map[string]string) func(*url.URL) (*url.URL, error) {
	get := func(name string) string { return cmp.Or(env[name], env[strings.ToLower(name)]) }
	return (&httpproxy.Config{
		HTTPProxy:  get("HTTP_PROXY"),
		HTTPSProxy: get("HTTPS_PROXY"),
		NoProxy:    get("NO_PROXY"),
		CGI:        env["REQUEST_METHOD"] != "",
	}).ProxyFunc()
}

// logProxy says at start-up whether INFLUX_HOST is reached through a proxy,
// naming only the proxy's scheme, host and port: its URL may hold a
// password. A proxy sees the token of every plain-http request.
func logProxy(logger *slog.Logger, host string, proxy func(*url.URL) (*url.URL, error)) {
	base, err := influx.ParseHost(host)
	if err != nil {
		return
	}
	p, err := proxy(base)
	switch {
	case err != nil:
		// The error quotes the setting, which may hold a password.
		logger.Warn("the proxy setting for INFLUX_HOST (HTTP_PROXY or HTTPS_PROXY) is not a valid URL; requests will fail")
	case p == nil:
	case base.Scheme == "http":
		logger.Warn("INFLUX_HOST is reached through a proxy over plain http: the proxy sees the token", "proxy", p.Scheme+"://"+p.Host)
	default:
		logger.Info("INFLUX_HOST is reached through a proxy (HTTPS tunnelled through it)", "proxy", p.Scheme+"://"+p.Host)
	}
}

// A release build stamps these (.goreleaser.yaml):
//
//	-ldflags "-X main.version=1.2.3 -X main.commit=<hash> -X main.date=<RFC 3339>"
var version, commit, date string

func buildInfo() *debug.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return bi
}

// releaseVersion is the version told to clients and InfluxDB: the release's,
// else the module's (`go install …@v1.2.3`), else "(devel)".
func releaseVersion(bi *debug.BuildInfo) string {
	if version != "" {
		return version
	}
	if bi != nil && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// orgSource words where the default org was set, for answers it narrows.
func orgSource(src influx.ConfigSource) string {
	if src.Org == "profile" {
		return fmt.Sprintf("the influx CLI profile %q", src.Profile)
	}
	return src.Org
}

// versionLine is what --version prints: the version, and the commit with its
// time. A release build stamps them; a build from a git checkout has them
// in its build info (go build records the VCS state unless -buildvcs=false).
func versionLine(bi *debug.BuildInfo) string {
	rev, when, modified := commit, date, false
	if rev == "" && bi != nil {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	line := "influx-token-mcp " + releaseVersion(bi)
	var details []string
	if rev != "" {
		details = append(details, "commit "+rev)
	}
	if when != "" {
		details = append(details, when)
	}
	if modified {
		details = append(details, "with local changes")
	}
	if bi != nil {
		details = append(details, bi.GoVersion)
	}
	if len(details) > 0 {
		line += " (" + strings.Join(details, ", ") + ")"
	}
	return line
}
