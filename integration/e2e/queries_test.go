package e2e

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenaudit/influx-token-mcp/integration/mcpharness"
	"github.com/tokenaudit/influx-token-mcp/integration/testserver"
)

// Issue 4: the audit questions list_tokens answers in one call, each
// compared with the answer computed from the fixtures' permissions.

func TestAuditQuestions(t *testing.T) {
	t.Parallel()
	e := shared
	f := e.fx
	acmeTelegraf := f.Buckets[testserver.BucketAcmeTelegraf]
	globexTelegraf := f.Buckets[testserver.BucketGlobexTelegraf]
	acmeMetrics := f.Buckets[testserver.BucketAcmeMetrics]
	scratch := f.Buckets[testserver.BucketAcmeScratch]
	id := func(name string) string { return f.Token(name).ID }

	cases := []struct {
		name   string
		caller string
		args   map[string]any
		// Sanity checks on the expectation itself, by fixture name, so that
		// a wrong model cannot make a case vacuous.
		includes, excludes []string
		// unknownOrg: the caller may not read the resource, so its org
		// cannot be known and a note must say so.
		unknownOrg bool
	}{
		{
			name: "who can write bucket telegraf (by name: acme's and globex's)",
			args: map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "telegraf"},
			includes: []string{testserver.TokOperator, testserver.TokAcmeAllAccess, testserver.TokAliceTelegrafWriter,
				testserver.TokGlobexBucketsWriter, testserver.TokGlobexTelegrafWriter},
			excludes: []string{testserver.TokBobBucketsReader, testserver.TokBobInactive, testserver.TokCarolTokenAdmin},
		},
		{
			name:     "who can write acme's bucket telegraf (by ID)",
			args:     map[string]any{"action": "write", "resourceType": "buckets", "resourceID": acmeTelegraf.ID},
			includes: []string{testserver.TokOperator, testserver.TokAcmeAllAccess, testserver.TokAliceTelegrafWriter},
			excludes: []string{testserver.TokGlobexBucketsWriter, testserver.TokGlobexTelegrafWriter, testserver.TokBobBucketsReader},
		},
		{
			name:     "who can write globex's bucket telegraf (by ID)",
			args:     map[string]any{"action": "write", "resourceType": "buckets", "resourceID": globexTelegraf.ID},
			includes: []string{testserver.TokOperator, testserver.TokGlobexBucketsWriter, testserver.TokGlobexTelegrafWriter},
			excludes: []string{testserver.TokAcmeAllAccess, testserver.TokAliceTelegrafWriter},
		},
		{
			name:     "who can read bucket telegraf",
			args:     map[string]any{"action": "read", "resourceType": "buckets", "resourceName": "telegraf"},
			includes: []string{testserver.TokOperator, testserver.TokAcmeAllAccess, testserver.TokBobBucketsReader},
			excludes: []string{testserver.TokAliceTelegrafWriter, testserver.TokAliceNoDescription},
		},
		{
			name:     "who can read or write bucket metrics (upper-case ID)",
			args:     map[string]any{"resourceType": "buckets", "resourceID": strings.ToUpper(acmeMetrics.ID)},
			includes: []string{testserver.TokAliceNoDescription, testserver.TokBobInactive, testserver.TokBobBucketsReader},
			excludes: []string{testserver.TokAliceTelegrafWriter, testserver.TokGlobexBucketsWriter},
		},
		{
			// A deleted bucket is in no org: InfluxDB answers 404 to anyone,
			// so acme's org-wide reader does not count.
			name:     "who can read the deleted bucket scratch (by ID)",
			args:     map[string]any{"action": "read", "resourceType": "buckets", "resourceID": scratch.ID},
			includes: []string{testserver.TokCarolDeletedBucket, testserver.TokOperator},
			excludes: []string{testserver.TokBobBucketsReader},
		},
		{
			name:     "which of alice's tokens can read bucket telegraf (none: hers write it)",
			args:     map[string]any{"user": testserver.UserAlice, "action": "read", "resourceType": "buckets", "resourceName": "telegraf"},
			excludes: []string{testserver.TokAliceTelegrafWriter, testserver.TokGlobexBucketsWriter},
		},
		{
			name:     "which of alice's tokens can access bucket telegraf at all",
			args:     map[string]any{"user": testserver.UserAlice, "resourceType": "buckets", "resourceName": "telegraf"},
			includes: []string{testserver.TokAliceTelegrafWriter, testserver.TokGlobexBucketsWriter},
			excludes: []string{testserver.TokAliceNoDescription, testserver.TokAcmeAllAccess},
		},
		{
			name:     "who can write some bucket in acme (org filter and type-wide access)",
			args:     map[string]any{"org": testserver.OrgAcme, "action": "write", "resourceType": "buckets"},
			includes: []string{testserver.TokAliceTelegrafWriter, testserver.TokBobInactive, testserver.TokAcmeAllAccess},
			excludes: []string{testserver.TokBobBucketsReader, testserver.TokGlobexBucketsWriter},
		},
		{
			name:     "who can read org acme",
			args:     map[string]any{"action": "read", "resourceType": "orgs", "resourceName": testserver.OrgAcme},
			includes: []string{testserver.TokOperator, testserver.TokAcmeAllAccess},
			excludes: []string{testserver.TokAuditor},
		},
		{
			name:     "who can read user carol",
			args:     map[string]any{"action": "read", "resourceType": "users", "resourceID": f.Users[testserver.UserCarol].ID},
			includes: []string{testserver.TokOperator, testserver.TokAuditor, testserver.TokAuditorRestricted},
			excludes: []string{testserver.TokAcmeAllAccess},
		},
		{
			// carol's token admin writes authorizations but no user:
			// CreateAuthorization refuses it.
			name:     "which tokens can create tokens",
			args:     map[string]any{"risk": "can-create-tokens"},
			includes: []string{testserver.TokOperator, testserver.TokAcmeAllAccess},
			excludes: []string{testserver.TokAuditor, testserver.TokCarolTokenAdmin},
		},
		{
			name:     "inactive tokens (status)",
			args:     map[string]any{"status": "inactive"},
			includes: []string{testserver.TokBobInactive, testserver.TokAuditorInactive},
			excludes: []string{testserver.TokOperator},
		},
		{
			name:     "inactive tokens (risk)",
			args:     map[string]any{"risk": "inactive"},
			includes: []string{testserver.TokBobInactive, testserver.TokAuditorInactive},
		},
		{
			name:     "active tokens of bob",
			args:     map[string]any{"user": testserver.UserBob, "status": "active"},
			includes: []string{testserver.TokBobBucketsReader, testserver.TokGlobexTelegrafWriter},
			excludes: []string{testserver.TokBobInactive},
		},
		{
			name:     "tokens without description",
			args:     map[string]any{"risk": "no-description"},
			includes: []string{testserver.TokAliceNoDescription},
		},
		{
			name:     "instance-wide tokens",
			args:     map[string]any{"risk": "instance-wide"},
			includes: []string{testserver.TokOperator},
			// Reading every user is reading the user directory.
			excludes: []string{testserver.TokAcmeAllAccess, testserver.TokAuditor, testserver.TokAuditorInactive, testserver.TokAuditorRestricted},
		},
		{
			name:     "description substring, any case",
			args:     map[string]any{"description": "WRITER"},
			includes: []string{testserver.TokAliceTelegrafWriter, testserver.TokGlobexTelegrafWriter, testserver.TokBobInactive},
			excludes: []string{testserver.TokAliceNoDescription},
		},
		{
			name:     "description substring and org",
			args:     map[string]any{"description": "auditor", "org": testserver.OrgAcme, "status": "active"},
			includes: []string{testserver.TokAuditor, testserver.TokAuditorBlind},
			excludes: []string{testserver.TokAuditorInactive},
		},
		{
			// The auditor may not read buckets: the bucket's org is unknown,
			// so org-wide writers are not counted, and a note says so.
			name:       "as auditor: who can write bucket telegraf (globex's tokens are invisible)",
			caller:     testserver.TokAuditor,
			args:       map[string]any{"action": "write", "resourceType": "buckets", "resourceName": "telegraf"},
			includes:   []string{testserver.TokOperator, testserver.TokAliceTelegrafWriter},
			excludes:   []string{testserver.TokAcmeAllAccess, testserver.TokGlobexBucketsWriter, testserver.TokGlobexTelegrafWriter},
			unknownOrg: true,
		},
		{
			// Reading a token needs read on it in its org and read on its
			// owner by id: the all-access token reads only its own user.
			name:     "as auditor: who can read alice's telegraf token (a token lives in its org)",
			caller:   testserver.TokAuditor,
			args:     map[string]any{"action": "read", "resourceType": "authorizations", "resourceID": id(testserver.TokAliceTelegrafWriter)},
			includes: []string{testserver.TokOperator, testserver.TokAuditor},
			excludes: []string{testserver.TokCarolTokenAdmin, testserver.TokAliceTelegrafWriter, testserver.TokAcmeAllAccess, testserver.TokAuditorBlind},
		},
		{
			// Writing a token needs write on its owner too, which no token
			// of carol's has.
			name:     "which of carol's tokens can write alice's telegraf token (the token itself is filtered out)",
			args:     map[string]any{"user": testserver.UserCarol, "action": "write", "resourceType": "authorizations", "resourceID": id(testserver.TokAliceTelegrafWriter)},
			excludes: []string{testserver.TokCarolTokenAdmin, testserver.TokAuditor, testserver.TokOperator},
		},
		{
			name:     "as auditor: who can read org acme (its ID is in every acme token)",
			caller:   testserver.TokAuditor,
			args:     map[string]any{"action": "read", "resourceType": "orgs", "resourceName": testserver.OrgAcme},
			includes: []string{testserver.TokOperator, testserver.TokAcmeAllAccess},
			excludes: []string{testserver.TokAuditor},
		},
		{
			name:     "as auditor-restricted: which tokens can create tokens",
			caller:   testserver.TokAuditorRestricted,
			args:     map[string]any{"risk": "can-create-tokens"},
			excludes: []string{testserver.TokAcmeAllAccess, testserver.TokCarolTokenAdmin},
		},
	}

	ctx := testContext(t)
	sessions := map[string]*mcpharness.Session{}
	for i, c := range cases {
		if c.caller == "" {
			cases[i].caller = testserver.TokOperator
		}
		if sessions[cases[i].caller] == nil {
			sessions[cases[i].caller] = e.session(t, cases[i].caller, nil)
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			caller := c.caller
			want := e.expect(t, caller, c.args)
			for _, n := range c.includes {
				if !slices.Contains(want, id(n)) {
					t.Fatalf("model error: expectation %v lacks %s", e.names(want), n)
				}
			}
			for _, n := range c.excludes {
				if slices.Contains(want, id(n)) {
					t.Fatalf("model error: expectation %v has %s", e.names(want), n)
				}
			}
			got, r := list(ctx, t, sessions[caller], withLimit(c.args, 500))
			e.checkList(t, caller, withLimit(c.args, 500), got)
			checkSummaryCounts(t, got)
			// The org is unknown exactly when the caller may not read the
			// resource, and then a note says so.
			pleads := false
			for _, n := range got.Notes {
				pleads = pleads || strings.Contains(n, "could not be determined")
			}
			if pleads != c.unknownOrg {
				t.Errorf("notes %q: org unknown %v, want %v", got.Notes, pleads, c.unknownOrg)
			}
			if got.Total > 0 && !strings.Contains(r.Text, "Tokens 1-") {
				t.Errorf("text does not announce the page: %s", r.Text)
			}
			// An access question's text shows, per token, what grants it.
			if _, ok := c.args["resourceType"]; ok && strings.Count(r.Text, "\n  grants it: ") != got.Count {
				t.Errorf("%d tokens but %d \"grants it:\" lines:\n%s", got.Count, strings.Count(r.Text, "\n  grants it: "), r.Text)
			}
		})
	}
}

// checkSummaryCounts checks that the summary adds up to total.
func checkSummaryCounts(t *testing.T, got listOut) {
	t.Helper()
	s := got.Summary
	if s.Active+s.Inactive != got.Total {
		t.Errorf("summary: %d active + %d inactive != total %d", s.Active, s.Inactive, got.Total)
	}
	sum := func(gs []groupOut, rest restOut) int {
		n := rest.Tokens
		for _, g := range gs {
			n += g.Tokens
		}
		return n
	}
	if n := sum(s.Orgs, s.OtherOrgs); n != got.Total {
		t.Errorf("summary: orgs add up to %d, total %d", n, got.Total)
	}
	if n := sum(s.Users, s.OtherUsers); n != got.Total {
		t.Errorf("summary: users add up to %d, total %d", n, got.Total)
	}
}

// TestCreatedAfterBefore picks times between fixture creations, as InfluxDB
// reports them, and checks createdAfter (inclusive) and createdBefore
// (exclusive), alone and together.
func TestCreatedAfterBefore(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	all := e.directList(ctx, t, testserver.TokOperator, nil)
	times := make([]time.Time, 0, len(all))
	for _, a := range all {
		times = append(times, a.CreatedAt)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	times = slices.CompactFunc(times, func(a, b time.Time) bool { return a.Equal(b) })
	if len(times) < 6 {
		t.Fatalf("only %d distinct creation times; the fixtures need more to test time filters", len(times))
	}
	between := func(i int) time.Time { return times[i].Add(times[i+1].Sub(times[i]) / 2) }
	rfc := func(ts time.Time) string { return ts.UTC().Format(time.RFC3339Nano) }
	mid := len(times) / 2

	s := e.session(t, testserver.TokOperator, nil)
	for _, args := range []map[string]any{
		{"createdAfter": rfc(between(mid))},
		{"createdBefore": rfc(between(mid))},
		{"createdAfter": rfc(times[mid])},  // inclusive: the token created then is in
		{"createdBefore": rfc(times[mid])}, // exclusive: it is out
		{"createdAfter": rfc(between(1)), "createdBefore": rfc(between(len(times) - 3))},
		{"createdAfter": rfc(times[2]), "createdBefore": rfc(times[2])}, // empty window
		{"createdAfter": rfc(between(mid)), "org": testserver.OrgAcme, "status": "active"},
		// Another time zone, same instant.
		{"createdBefore": times[mid].In(time.FixedZone("", -7*3600)).Format(time.RFC3339Nano)},
		{"createdBefore": rfc(times[0].Add(-time.Hour))},
	} {
		t.Run(toJSON(args), func(t *testing.T) {
			got, _ := list(ctx, t, s, withLimit(args, 500))
			e.checkList(t, testserver.TokOperator, withLimit(args, 500), got)
		})
	}
	// The split at one instant covers every token exactly once.
	after, _ := list(ctx, t, s, map[string]any{"createdAfter": rfc(between(mid)), "limit": 500})
	before, _ := list(ctx, t, s, map[string]any{"createdBefore": rfc(between(mid)), "limit": 500})
	if after.Total == 0 || before.Total == 0 || after.Total+before.Total != len(all) {
		t.Errorf("createdAfter and createdBefore at one instant give %d + %d tokens, want a split of %d", after.Total, before.Total, len(all))
	}
}

// TestPaging pages through every token three at a time: each token appears
// exactly once, oldest first, and count, total, offset and truncated agree.
func TestPaging(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	s := e.session(t, testserver.TokOperator, nil)
	for _, base := range []map[string]any{{}, {"org": testserver.OrgAcme}, {"action": "write", "resourceType": "buckets"}} {
		t.Run(toJSON(base), func(t *testing.T) {
			want := e.expect(t, testserver.TokOperator, base)
			if len(want) < 4 {
				t.Fatalf("only %d matches; paging needs more", len(want))
			}
			var seen []string
			pages := 0
			for offset := 0; ; offset += 3 {
				args := cloneArgs(base)
				args["limit"], args["offset"] = 3, offset
				got, r := list(ctx, t, s, args)
				pages++
				wantCount := min(3, max(0, len(want)-offset))
				if got.Total != len(want) || got.Count != wantCount || len(got.Tokens) != wantCount ||
					got.Offset != offset || got.Truncated != (offset+wantCount < len(want)) {
					t.Errorf("page at %d: total %d count %d tokens %d offset %d truncated %v; want total %d count %d truncated %v",
						offset, got.Total, got.Count, len(got.Tokens), got.Offset, got.Truncated, len(want), wantCount, offset+wantCount < len(want))
				}
				checkSummaryCounts(t, got)
				seen = append(seen, ids(got.Tokens)...)
				if got.Truncated {
					wantContains(t, "text", r.Text, "offset="+itoa(offset+3))
				}
				if !got.Truncated || pages > 20 {
					break
				}
			}
			if !slices.Equal(seen, want) {
				t.Errorf("pages give %v,\nwant each token once, oldest first: %v", e.names(seen), e.names(want))
			}
			// Past the end: nothing, not truncated, and the text says so.
			args := cloneArgs(base)
			args["limit"], args["offset"] = 3, len(want)+5
			got, r := list(ctx, t, s, args)
			if got.Count != 0 || len(got.Tokens) != 0 || got.Total != len(want) || got.Truncated {
				t.Errorf("offset past the end: count %d total %d truncated %v", got.Count, got.Total, got.Truncated)
			}
			wantContains(t, "text past the end", r.Text, "past the end")
		})
	}
}

// TestTextBlockSize: a handful of matches reads as a compact text block
// (under 4 KiB) that names every match.
func TestTextBlockSize(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	s := e.session(t, testserver.TokOperator, nil)
	for _, args := range []map[string]any{
		{"description": "writer"},
		{"user": testserver.UserBob},
		{"risk": "can-create-tokens"}, // holds the two largest tokens
		{"action": "write", "resourceType": "buckets", "resourceName": "telegraf"},
	} {
		got, r := list(ctx, t, s, args)
		if got.Count < 2 || got.Count > 6 {
			t.Fatalf("%s: %d matches; want a handful", toJSON(args), got.Count)
		}
		t.Logf("%s: %d matches, text %d bytes, structuredContent %d bytes", toJSON(args), got.Count, len(r.Text), len(r.Raw))
		if len(r.Text) >= 4096 {
			t.Errorf("%s: text block of %d matches is %d bytes, want under 4 KiB:\n%s", toJSON(args), got.Count, len(r.Text), r.Text)
		}
		for _, tok := range got.Tokens {
			wantContains(t, toJSON(args), r.Text, tok.ID, tok.Description, tok.User+"@"+tok.Org)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestBucketOrgUnknownToCaller: the auditor may not read buckets, so the
// bucket's org cannot be known; a permission's orgID is the org of the token
// that holds it, not of the bucket its id names, so it tells nothing. bob's
// org-wide bucket reader must not be counted, and a note must say why.
func TestBucketOrgUnknownToCaller(t *testing.T) {
	t.Parallel()
	e := shared
	ctx := testContext(t)
	caller := testserver.TokAuditor
	s := e.session(t, caller, nil)
	args := map[string]any{"user": testserver.UserBob, "action": "read", "resourceType": "buckets", "resourceName": "telegraf", "limit": 500}
	got, r := list(ctx, t, s, args)
	want := e.expect(t, caller, args)
	if slices.Contains(e.names(want), testserver.TokBobBucketsReader) {
		t.Fatalf("model: want includes %s", testserver.TokBobBucketsReader)
	}
	if g := ids(got.Tokens); !slices.Equal(g, want) {
		t.Errorf("got %v, want %v", e.names(g), e.names(want))
	}
	if !strings.Contains(r.Text, "could not be determined") || !strings.Contains(r.Text, "read:buckets") {
		t.Errorf("text does not say the org is unknown and why:\n%s", r.Text)
	}
}
