package tools

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tokenaudit/influx-token-mcp/bench/fixture"
	"github.com/tokenaudit/influx-token-mcp/influx"
)

// referenceListTokens is list_tokens' selection done the plain way: keep
// every match, filter on access once every permission has been seen, sort
// all, cut the page. listTokens must answer exactly as it does.
func referenceListTokens(ctx context.Context, c Client, s Settings, in ListTokensInput) *mcp.CallToolResult {
	q, bad := parseListInput(in, s)
	if bad != nil {
		return bad
	}
	notes := []string{visibilityNote}
	if n := q.scopeNote(s); n != "" {
		notes = append(notes, n)
	}
	if q.access != nil && q.access.specific() {
		notes = append(notes, resolveTargets(ctx, c, s, q.access)...)
	}
	var matches []match
	dir := newDirectory(c)
	if err := c.ListAuthorizations(ctx, q.filter, func(a *influx.Authorization) error {
		if risks, reasons := risksOf(ctx, a, dir); q.keeps(a, risks) {
			matches = append(matches, match{auth: a, risks: risks, reasons: reasons})
		}
		return nil
	}); err != nil {
		return upstreamError(err, s, describeFilter(q.filter), notFoundHint(q, s))
	}
	if q.access != nil {
		matches = slices.DeleteFunc(matches, func(m match) bool { return !q.access.grantedBy(m.auth) })
	}
	if q.access != nil && len(q.access.unseen) > 0 {
		notes = append(notes, fmt.Sprintf("Permissions name %s called %q with ids %s that InfluxDB's %s API does not show to the configured token: for those, grants naming them and all-org grants are counted, org-wide grants are not.",
			q.access.Type, clip(q.access.Name), strings.Join(q.access.unseen, ", "), q.access.Type))
	}
	notes = append(notes, dir.notes(s)...)
	slices.SortFunc(matches, func(a, b match) int {
		return cmp.Or(a.auth.CreatedAt.Compare(b.auth.CreatedAt), strings.Compare(a.auth.ID, b.auth.ID))
	})
	res := ListTokensResult{Tokens: []Token{}, Total: len(matches), Offset: q.offset, Summary: summarize(matches), Notes: notes}
	if q.offset < len(matches) {
		res.Tokens = pageTokens(matches[q.offset:min(len(matches), q.offset+q.limit)], q)
	}
	res.Count = len(res.Tokens)
	res.Truncated = q.limit > 0 && q.offset+res.Count < res.Total
	fitList(&res) // the size bounds are not selection: shared
	return mcp.NewToolResultStructured(res, finishText(renderList(&res, q)))
}

// TestListTokensSelectsAsReference compares listTokens with the plain
// selection above over a generated instance, for filters, access queries
// and pages at the start, middle, end and past the end, shallow and past
// keysOnlyFrom.
func TestListTokensSelectsAsReference(t *testing.T) {
	const n = 2500
	c := benchClient{benchAuths(t, n)}
	var inputs []ListTokensInput
	for _, page := range []struct{ limit, offset int }{{50, 0}, {0, 0}, {0, 30}, {1, 0}, {7, 13}, {50, 101}, {500, 0}, {500, 250}, {3, n - 2}, {50, n}, {50, n + 1}, {500, 1 << 62}, {500, keysOnlyFrom}, {37, keysOnlyFrom + 3}, {500, n - 300}} {
		for _, f := range []ListTokensInput{
			{},
			{Status: "inactive"},
			{Description: "TELEGRAF writer 1"},
			{Risk: riskNoDescription},
			{Risk: riskInstanceWide},
			{CreatedAfter: "2024-06-01T00:00:00Z", CreatedBefore: "2025-06-01T00:00:00Z"},
			{ResourceType: "buckets"},
			{Action: "write", ResourceType: "authorizations"},
			{Action: "read", ResourceType: "dashboards", ResourceName: "nothing by that name"},
			{Action: "write", ResourceType: "buckets", ResourceName: fixture.BucketName(3)},
			{ResourceType: "buckets", ResourceID: fixture.BucketID(4, 2)},
			{ResourceType: "orgs", ResourceName: "org07"},
		} {
			f.Limit, f.Offset = intPtr(page.limit), page.offset
			inputs = append(inputs, f)
		}
	}
	for _, in := range inputs {
		got := listTokens(context.Background(), c, Settings{}, in)
		want := referenceListTokens(context.Background(), c, Settings{}, in)
		if got.IsError || want.IsError {
			t.Fatalf("%+v: error %v / %v", in, got.Content, want.Content)
		}
		if !reflect.DeepEqual(got, want) {
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			t.Errorf("limit %d offset %d %+v:\n got %.600s\nwant %.600s", *in.Limit, in.Offset, in, g, w)
		}
	}
	// The grid is worth something only if it has pages and non-empty answers.
	res := listTokens(context.Background(), c, Settings{}, ListTokensInput{Action: "write", ResourceType: "buckets", ResourceName: fixture.BucketName(3)})
	if r := res.StructuredContent.(ListTokensResult); r.Total < 10 || r.Total == n || r.Summary.Active == 0 {
		t.Errorf("the access query matched %d of %d tokens; the fixture no longer exercises it", r.Total, n)
	}
}
