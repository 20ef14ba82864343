// Command influx-testserver runs the real InfluxDB OSS token, user, org and
// bucket API in memory, seeded with the audit fixtures, for trying
// influx-token-mcp by hand. InfluxDB v2.8.0 (go.mod) or v2.10.0
// (go.v2.10.mod, hashed tokens by default as influxd since 2.9):
//
//	cd integration && ./prepare-flux.sh && go run ./cmd/influx-testserver -addr 127.0.0.1:8086
//	cd integration && export GOTOOLCHAIN=go1.27.3 && ./prepare-flux.sh go.v2.10.mod &&
//		go run -modfile=go.v2.10.mod ./cmd/influx-testserver -addr 127.0.0.1:8086
//
// It prints the operator token, ready-to-paste environment variables and a
// claude_desktop_config.json block on stdout, then serves until SIGINT or
// SIGTERM. InfluxDB's own logs go to stderr with -v, and nowhere otherwise.
// All data is lost on exit.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
	"go.uber.org/zap"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "influx-testserver:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("influx-testserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8086", "`host:port` to listen on (port 0 picks a free one)")
	seed := fs.Bool("seed", true, "create the demo fixtures (orgs, users, buckets, tokens)")
	hashed := fs.Bool("hashed-tokens", testserver.HashedTokensByDefault(),
		"store hashed tokens only (influxd --use-hashed-tokens, the default from InfluxDB 2.9 on): reads return an empty token")
	token := fs.String("token", "", "use this `value` as the operator token instead of a random one")
	as := fs.String("as", testserver.TokOperator, "fixture `name` whose token goes into INFLUX_TOKEN (needs -seed)")
	binary := fs.String("mcp-binary", "/ABSOLUTE/PATH/TO/influx-token-mcp", "`path` of the influx-token-mcp binary for the Claude Desktop block")
	verbose := fs.Bool("v", false, "log InfluxDB's own messages to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}

	log := zap.NewNop()
	if *verbose {
		cfg := zap.NewDevelopmentConfig()
		cfg.OutputPaths = []string{"stderr"}
		cfg.ErrorOutputPaths = []string{"stderr"}
		l, err := cfg.Build()
		if err != nil {
			return err
		}
		log = l
	}

	srv, err := testserver.Start(ctx, testserver.Options{
		Addr:          *addr,
		HashedTokens:  *hashed,
		OperatorToken: *token,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	var fx *testserver.Fixtures
	callerToken := srv.OperatorToken
	if *seed {
		if fx, err = testserver.Seed(ctx, srv); err != nil {
			return err
		}
		tok, ok := fx.Tokens[*as]
		if !ok {
			return fmt.Errorf("-as %q: no such fixture; have %s", *as, strings.Join(fx.TokenNames(), ", "))
		}
		callerToken = tok.Token
	} else if *as != testserver.TokOperator {
		return fmt.Errorf("-as needs -seed")
	}

	listed, values, err := listedTokenValues(ctx, srv)
	if err != nil {
		return err
	}
	if err := printBanner(stdout, srv, fx, *as, callerToken, *binary); err != nil {
		return err
	}
	printListedValues(stdout, srv, listed, values)

	<-ctx.Done()
	fmt.Fprintln(stderr, "influx-testserver: shutting down")
	return srv.Close()
}

func printBanner(w io.Writer, srv *testserver.Server, fx *testserver.Fixtures, as, token, binary string) error {
	hashed := ""
	if srv.HashedTokens {
		hashed = " with hashed tokens"
	}
	fmt.Fprintf(w, "InfluxDB %s API (in-memory test server%s) at %s\n", testserver.InfluxDBVersion, hashed, srv.URL)
	fmt.Fprintf(w, "org %s (%s), operator user %s\n", srv.Org, srv.OrgID, srv.User)
	fmt.Fprintf(w, "operator token: %s\n\n", srv.OperatorToken)

	fmt.Fprintf(w, "# shell (INFLUX_TOKEN is the %s token)\n", as)
	fmt.Fprintf(w, "export INFLUX_HOST=%s INFLUX_TOKEN=%s\n\n", srv.URL, token)

	type mcpServer struct {
		Command string            `json:"command"`
		Env     map[string]string `json:"env"`
	}
	cfg := map[string]map[string]mcpServer{
		"mcpServers": {
			"influx-tokens": {
				Command: binary,
				Env:     map[string]string{"INFLUX_HOST": srv.URL, "INFLUX_TOKEN": token},
			},
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# claude_desktop_config.json\n%s\n", b)

	if fx != nil {
		fmt.Fprintf(w, "\n# fixture tokens (use -as NAME to put another one into INFLUX_TOKEN)\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tID\tUSER\tORG\tSTATUS\tCREATED\tDESCRIPTION\tTOKEN")
		for _, name := range fx.TokenNames() {
			t := fx.Tokens[name]
			desc := t.Description
			if desc == "" {
				desc = "(none)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.ID, t.User, t.Org, t.Status, t.CreatedAt.Format(time.DateOnly), desc, t.Token)
		}
		fmt.Fprintf(tw, "wrong-token\t-\t-\t-\t-\t-\tmatches no token\t%s\n", fx.WrongToken)
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// listedTokenValues lists the tokens as the operator, the way an audit
// does, and counts the token values in InfluxDB's answer.
func listedTokenValues(ctx context.Context, srv *testserver.Server) (listed, values int, err error) {
	var list struct {
		Authorizations []struct {
			Token string `json:"token"`
		} `json:"authorizations"`
	}
	if err := srv.Client(srv.OperatorToken).Get(ctx, "/api/v2/authorizations", &list); err != nil {
		return 0, 0, err
	}
	for _, a := range list.Authorizations {
		if a.Token != "" {
			values++
		}
	}
	return len(list.Authorizations), values, nil
}

// printListedValues shows what hashed tokens change for an audit: whether
// the token list InfluxDB returns carries the secrets.
func printListedValues(w io.Writer, srv *testserver.Server, listed, values int) {
	fmt.Fprintf(w, "\n# GET /api/v2/authorizations as the operator returns %d tokens with %d token values:\n", listed, values)
	if srv.HashedTokens {
		fmt.Fprintln(w, "# InfluxDB stores hashed tokens, so a token's value is shown once, when it is created (-hashed-tokens=false: unhashed).")
	} else {
		fmt.Fprintln(w, "# InfluxDB stores the tokens unhashed and returns every value to anyone who may read it; influx-token-mcp never shows them (-hashed-tokens: hashed).")
	}
	fmt.Fprintln(w, "\nServing until Ctrl-C (SIGINT) or SIGTERM; all data is lost on exit.")
}
