package tools

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

const (
	defaultLimit = 50
	maxLimit     = 500
)

// ListTokensInput are list_tokens' arguments. user, userID, org and orgID go
// to InfluxDB as its own query parameters; the rest filter here. All combine
// with AND.
type ListTokensInput struct {
	User          string `json:"user,omitempty" jsonschema:"owner's user name (InfluxDB filter; unknown name is an error)"`
	UserID        string `json:"userID,omitempty" jsonschema:"owner's user ID, 16 hex digits (InfluxDB filter)"`
	Org           string `json:"org,omitempty" jsonschema:"org name the tokens belong to (InfluxDB filter; unknown name is an error)"`
	OrgID         string `json:"orgID,omitempty" jsonschema:"org ID, 16 hex digits (InfluxDB filter)"`
	AllOrgs       bool   `json:"allOrgs,omitempty" jsonschema:"true: every org, ignoring the server's default org (INFLUX_ORG, INFLUX_ORG_ID or the influx CLI profile's org), which otherwise narrows calls that name no org; not with org or orgID"`
	Status        string `json:"status,omitempty" jsonschema:"enum=active,enum=inactive"`
	Description   string `json:"description,omitempty" jsonschema:"case-insensitive substring of the description"`
	Action        string `json:"action,omitempty" jsonschema:"with resourceType: only tokens that grant this action (either if omitted),enum=read,enum=write"`
	ResourceType  string `json:"resourceType,omitempty" jsonschema:"only tokens granting access to this resource type; with resourceID or resourceName to one resource (type-wide and instance-wide grants count as InfluxDB counts them)"` // enum: resourceTypes
	ResourceID    string `json:"resourceID,omitempty" jsonschema:"ID of the one resource (needs resourceType)"`
	ResourceName  string `json:"resourceName,omitempty" jsonschema:"name of the one resource, e.g. a bucket name (needs resourceType)"`
	Risk          string `json:"risk,omitempty" jsonschema:"only tokens with this risk flag,enum=instance-wide,enum=can-create-tokens,enum=dangling,enum=inactive,enum=no-description"`
	CreatedAfter  string `json:"createdAfter,omitempty" jsonschema:"RFC 3339 time, e.g. 2026-03-01T00:00:00Z: created at or after"`
	CreatedBefore string `json:"createdBefore,omitempty" jsonschema:"RFC 3339 time: created before"`
	Limit         *int   `json:"limit,omitempty" jsonschema:"page size, 0 to 500, default 50; 0 returns only the counts"`
	Offset        int    `json:"offset,omitempty" jsonschema:"matches to skip (paging), default 0"`
}

// resourceTypes are the values resourceType takes: InfluxDB's resource
// types, in the order of its authz.AllResourceTypes.
var resourceTypes = []string{
	"authorizations", "buckets", "dashboards", "orgs", "tasks", "telegrafs", "users", "variables",
	"secrets", "labels", "views", "documents", "notificationRules", "notificationEndpoints", "checks", "dbrp",
	"annotations", "sources", "scrapers", "notebooks", "remotes", "replications", "instance", "flows",
	"functions", "subscriptions",
}

// ListTokensResult is list_tokens' structured result.
type ListTokensResult struct {
	Tokens    []Token  `json:"tokens"`
	Count     int      `json:"count" jsonschema:"tokens in this page"`
	Total     int      `json:"total" jsonschema:"tokens matching the filters, before limit and offset"`
	Offset    int      `json:"offset"`
	Truncated bool     `json:"truncated" jsonschema:"more matches follow this page; call again with offset = offset + count (never true with limit 0)"`
	Summary   Summary  `json:"summary" jsonschema:"counts over all matches, not just this page"`
	Notes     []string `json:"notes" jsonschema:"caveats about completeness of the answer"`
}

const visibilityNote = "InfluxDB lists only the tokens the configured token may read (and none whose user or org was deleted); others are left out silently."

// ListTokens is the list_tokens tool.
func ListTokens(c Client, s Settings) server.ServerTool {
	tool := mcp.NewTool("list_tokens",
		mcp.WithDescription("Search InfluxDB API tokens (authorizations) and answer audit questions in one call. "+
			"Filters combine with AND: owner (user/userID), org (org/orgID), status, description text, effective access "+
			"(action + resourceType [+ resourceID or resourceName]: e.g. who can write bucket telegraf, counting type-wide and all-org grants), "+
			"risk flag, creation time. Returns a page (limit/offset, oldest first) plus counts over all matches; limit 0 gives only the counts. "+
			"Token values are never shown. InfluxDB leaves out tokens the configured token may not read. "+
			"The server's default org, if set, narrows calls that name no org (the answer says so); allOrgs: true covers every org."),
		mcp.WithInputSchema[ListTokensInput](),
		withEnum("resourceType", resourceTypes),
		mcp.WithOutputSchema[ListTokensResult](),
		readOnly("List InfluxDB tokens"),
		nonNullable(),
	)
	// A call reads the whole list and may hold part of it until it answers,
	// so only as many run at once as there are cores, at least 2 and at
	// most 4; that bounds memory and CPU, and waiting costs little next to
	// the InfluxDB request that a shared list saves.
	slots := make(chan struct{}, min(max(runtime.GOMAXPROCS(0), 2), 4))
	return server.ServerTool{Tool: tool, Handler: mcp.NewTypedToolHandler(func(ctx context.Context, _ mcp.CallToolRequest, in ListTokensInput) (*mcp.CallToolResult, error) {
		select {
		case slots <- struct{}{}:
			defer func() { <-slots }()
		case <-ctx.Done():
			return mcp.NewToolResultError("The call was cancelled while it waited for other list_tokens calls to finish."), nil
		}
		return listTokens(ctx, c, s, in), nil
	})}
}

// withEnum sets the enum of the input property name to values, which a
// struct tag could only list inline. It must follow mcp.WithInputSchema, and
// edits the schema's text in place so that the properties keep their order.
func withEnum(name string, values []string) mcp.ToolOption {
	return func(t *mcp.Tool) {
		var schema struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		enum, err := json.Marshal(values)
		if err != nil || json.Unmarshal(t.RawInputSchema, &schema) != nil || len(schema.Properties[name]) == 0 {
			panic("withEnum: no input property " + name)
		}
		// The property's text is an object: put the enum before its "}".
		prop := schema.Properties[name]
		edited := slices.Concat(prop[:len(prop)-1], []byte(`,"enum":`), enum, []byte("}"))
		t.RawInputSchema = bytes.Replace(t.RawInputSchema, prop, edited, 1)
	}
}

// listQuery is a validated list_tokens call.
type listQuery struct {
	filter        influx.ListFilter
	status        string
	description   string // lower case
	access        *accessQuery
	risk          string
	after, before time.Time
	limit, offset int
	defaultOrg    bool // filter's org came from Settings, not from the call
	settings      Settings
}

// scopeNote says that a default org narrowed the answer, naming the org and
// where it was set; "" when none did.
func (q *listQuery) scopeNote(s Settings) string {
	if !q.defaultOrg {
		return ""
	}
	org := cmp.Or(q.filter.Org, q.filter.OrgID)
	return fmt.Sprintf("Only org %q: the server's default org, from %s, narrows calls that name no org; pass allOrgs: true to audit every org.", clip(org), cmp.Or(s.DefaultOrgSource, "the configuration"))
}

func parseListInput(in ListTokensInput, s Settings) (*listQuery, *mcp.CallToolResult) {
	q := &listQuery{
		filter: influx.ListFilter{User: in.User, UserID: in.UserID, Org: in.Org, OrgID: in.OrgID},
		status: in.Status, description: strings.ToLower(in.Description), risk: in.Risk,
		limit: defaultLimit, offset: in.Offset, settings: s,
	}
	for _, id := range []struct{ name, value string }{{"userID", in.UserID}, {"orgID", in.OrgID}, {"resourceID", in.ResourceID}} {
		if id.value != "" && influx.ValidateID(id.value) != nil {
			return nil, argError("%s %q is not an InfluxDB ID (16 hexadecimal digits, e.g. 0a1b2c3d4e5f6a7b).", id.name, clip(id.value))
		}
	}
	if in.AllOrgs && (in.Org != "" || in.OrgID != "") {
		return nil, argError("allOrgs asks for every org; give it without org and orgID, or drop it to narrow to one org.")
	}
	if in.Org == "" && in.OrgID == "" && !in.AllOrgs {
		q.filter.Org, q.filter.OrgID = s.DefaultOrg, s.DefaultOrgID
		q.defaultOrg = s.DefaultOrg != "" || s.DefaultOrgID != ""
	}
	if in.ResourceType == "" && (in.Action != "" || in.ResourceID != "" || in.ResourceName != "") {
		return nil, argError("action, resourceID and resourceName need resourceType too, e.g. {\"action\":\"write\",\"resourceType\":\"buckets\",\"resourceName\":\"telegraf\"}.")
	}
	if in.ResourceType == "authorizations" && in.ResourceName != "" {
		return nil, argError("tokens have no names; ask about one token with resourceID (its authorization ID) instead of resourceName.")
	}
	if in.ResourceID != "" && in.ResourceName != "" {
		return nil, argError("give resourceID or resourceName, not both.")
	}
	if in.ResourceType != "" {
		q.access = &accessQuery{Action: in.Action, Type: in.ResourceType, ID: strings.ToLower(in.ResourceID), Name: in.ResourceName}
	}
	var err error
	if q.after, err = parseTime(in.CreatedAfter); err != nil {
		return nil, argError("createdAfter %q is not an RFC 3339 time; use e.g. 2026-03-01T00:00:00Z.", clip(in.CreatedAfter))
	}
	if q.before, err = parseTime(in.CreatedBefore); err != nil {
		return nil, argError("createdBefore %q is not an RFC 3339 time; use e.g. 2026-03-01T00:00:00Z.", clip(in.CreatedBefore))
	}
	if in.Limit != nil {
		q.limit = *in.Limit
	}
	if q.limit < 0 || q.limit > maxLimit {
		return nil, argError("limit %d is out of range; use 0 to %d (0 returns only the counts).", q.limit, maxLimit)
	}
	if q.offset < 0 {
		return nil, argError("offset %d is negative; use 0 or more.", q.offset)
	}
	return q, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// keeps reports whether a passes every filter but effective access.
func (q *listQuery) keeps(a *influx.Authorization, risks []string) bool {
	switch {
	case q.status != "" && a.Status != q.status:
		return false
	case q.description != "" && !strings.Contains(strings.ToLower(a.Description), q.description):
		return false
	case q.risk != "" && !slices.Contains(risks, q.risk):
		return false
	case !q.after.IsZero() && a.CreatedAt.Before(q.after):
		return false
	case !q.before.IsZero() && !a.CreatedAt.Before(q.before):
		return false
	}
	return true
}

// match is a token that passed the filters, with its risks worked out once.
type match struct {
	auth    *influx.Authorization
	risks   []string
	reasons []RiskReason
}

// page collects the answer of a list_tokens call from matches in any order:
// it counts every match and keeps only the offset+limit oldest (by creation
// time, then ID), among which the page is. A call over 10,000 tokens thus
// holds about a page of them, not the whole list. Past keysOnlyFrom, it
// keeps only the keys of those matches, and the page's tokens are picked
// from a second pass over the list (see missing and fill).
type page struct {
	offset, keep int
	keysOnly     bool
	oldest       []pageEntry // a superset of the keep oldest matches so far
	total        int
	tally        tally
}

// keysOnlyFrom is the offset from which a page keeps keys, not tokens:
// under 70 bytes a match instead of a whole token.
const keysOnlyFrom = 1000

// pageEntry is a kept match, or only its key when the page keeps keys
// (m is then nil until fill).
type pageEntry struct {
	created time.Time
	id      string
	m       *match
}

func newPage(offset, limit int) *page {
	p := &page{offset: offset, keysOnly: offset >= keysOnlyFrom}
	if limit > 0 {
		p.keep = min(offset, math.MaxInt-limit) + limit
	}
	return p
}

func (p *page) add(m match) {
	p.total++
	p.tally.add(m)
	if p.keep == 0 {
		return
	}
	e := pageEntry{created: m.auth.CreatedAt, id: m.auth.ID}
	if !p.keysOnly {
		e.m = &m
	}
	p.oldest = append(p.oldest, e)
	if len(p.oldest)-p.keep >= max(p.keep, 64) {
		p.trim()
	}
}

// trim sorts the kept matches oldest first and drops all but the keep
// oldest: a dropped one has keep older ones, so it is past the page.
func (p *page) trim() {
	slices.SortFunc(p.oldest, func(a, b pageEntry) int {
		return cmp.Or(a.created.Compare(b.created), strings.Compare(a.id, b.id))
	})
	if len(p.oldest) > p.keep {
		clear(p.oldest[p.keep:]) // let the dropped tokens be collected
		p.oldest = p.oldest[:p.keep]
	}
}

// window is the page's entries, oldest first.
func (p *page) window() []pageEntry {
	p.trim()
	if p.offset >= len(p.oldest) {
		return nil
	}
	return p.oldest[p.offset:]
}

// missing are the IDs of the page's tokens that a page of keys has yet to
// get, or nil.
func (p *page) missing() map[string]bool {
	if !p.keysOnly {
		return nil
	}
	ids := map[string]bool{}
	for _, e := range p.window() {
		ids[e.id] = true
	}
	return ids
}

// fill gives a page of keys the match for one of its IDs.
func (p *page) fill(m match) {
	for i := p.offset; i < len(p.oldest); i++ {
		if p.oldest[i].id == m.auth.ID {
			p.oldest[i].m = &m
		}
	}
}

// matches returns the page, oldest first. A token a page of keys did not
// get again (deleted between the passes) is left out.
func (p *page) matches() []match {
	var out []match
	for _, e := range p.window() {
		if e.m != nil {
			out = append(out, *e.m)
		}
	}
	return out
}

func listTokens(ctx context.Context, c Client, s Settings, in ListTokensInput) *mcp.CallToolResult {
	q, bad := parseListInput(in, s)
	if bad != nil {
		return bad
	}

	// The resource asked about, and its org, come from InfluxDB's APIs
	// before the list is read, so that every token is decided as it streams
	// past and only the page is kept.
	notes := []string{visibilityNote}
	if n := q.scopeNote(s); n != "" {
		notes = append(notes, n)
	}
	if q.access != nil && q.access.specific() {
		notes = append(notes, resolveTargets(ctx, c, s, q.access)...)
	}
	dir := newDirectory(c)
	page := newPage(q.offset, q.limit)
	var source influx.ListSource
	err := c.ListAuthorizations(influx.WithListSource(ctx, &source), q.filter, func(a *influx.Authorization) error {
		risks, reasons := risksOf(ctx, a, dir)
		if q.keeps(a, risks) && (q.access == nil || q.access.grantedBy(a)) {
			page.add(match{auth: a, risks: risks, reasons: reasons})
		}
		return nil
	})
	if err != nil {
		return upstreamError(err, s, describeFilter(q.filter), notFoundHint(q, s))
	}
	if source.Snapshot {
		notes = append(notes, snapshotNote(source))
	}
	if q.access != nil && len(q.access.unseen) > 0 {
		notes = append(notes, fmt.Sprintf("Permissions name %s called %q with ids %s that InfluxDB's %s API does not show to the configured token: for those, grants naming them and all-org grants are counted, org-wide grants are not.",
			q.access.Type, clip(q.access.Name), strings.Join(q.access.unseen, ", "), q.access.Type))
	}
	notes = append(notes, dir.notes(s)...)

	if ids := page.missing(); len(ids) > 0 {
		// A deep page kept keys only: pick its tokens from the list again.
		err := c.ListAuthorizations(ctx, q.filter, func(a *influx.Authorization) error {
			if ids[a.ID] {
				risks, reasons := risksOf(ctx, a, dir)
				page.fill(match{auth: a, risks: risks, reasons: reasons})
			}
			return nil
		})
		if err != nil {
			return upstreamError(err, s, describeFilter(q.filter), notFoundHint(q, s))
		}
	}

	res := ListTokensResult{
		Tokens:  pageTokens(page.matches(), q),
		Total:   page.total,
		Offset:  q.offset,
		Summary: page.tally.summary(),
		Notes:   notes,
	}
	res.Count = len(res.Tokens)
	// With limit 0 there is no page to follow: the call asked for counts.
	res.Truncated = q.limit > 0 && q.offset+res.Count < res.Total
	fitList(&res)
	return mcp.NewToolResultStructured(res, finishText(renderList(&res, q)))
}

// pageTokens turns the matches of a page into the result's tokens. With an
// access query each also gets the permissions that grant that access, for
// the text block.
func pageTokens(matches []match, q *listQuery) []Token {
	tokens := make([]Token, 0, len(matches))
	for _, m := range matches {
		t := newToken(m.auth, m.risks, m.reasons)
		switch {
		case q.access != nil:
			t.grants = []string{}
			for _, p := range q.access.grantingPermissions(m.auth) {
				t.grants = append(t.grants, permissionText(p))
			}
		case q.risk != "":
			t.raises = q.risk
		}
		tokens = append(tokens, t)
	}
	return tokens
}

// resolveTargets finds the resource an access query names, with its org,
// from InfluxDB's buckets, orgs, users and authorizations APIs. It returns
// notes for what could not be resolved.
func resolveTargets(ctx context.Context, c Client, s Settings, q *accessQuery) []string {
	what := fmt.Sprintf("%s %q", q.Type, clip(cmp.Or(q.Name, q.ID)))
	var lookupErr error
	switch q.Type {
	case "buckets":
		buckets, err := c.FindBuckets(ctx, q.Name, q.ID)
		lookupErr = err
		for _, b := range buckets {
			q.Targets = append(q.Targets, target{ID: b.ID, OrgID: b.OrgID, System: b.Type == "system"})
		}
	case "orgs", "users":
		// InfluxDB checks both by id alone: no org to find.
		if q.ID != "" {
			q.Targets = []target{{ID: q.ID}}
			return nil
		}
		var ids []string
		if q.Type == "orgs" {
			orgs, err := c.FindOrgs(ctx, q.Name)
			lookupErr = err
			for _, o := range orgs {
				ids = append(ids, o.ID)
			}
		} else {
			users, err := c.FindUsers(ctx, q.Name)
			lookupErr = err
			for _, u := range users {
				ids = append(ids, u.ID)
			}
		}
		for _, id := range ids {
			q.Targets = append(q.Targets, target{ID: id})
		}
		if len(q.Targets) > 0 {
			return partialLookup(lookupErr, s, what, q.Type)
		}
		// Permissions that name it still carry its name; all-org grants
		// still count.
		q.Targets = []target{{}}
		if lookupErr == nil {
			return []string{fmt.Sprintf("InfluxDB's %s API does not show %s to the configured token (it does not exist, or the token may not read it); grants naming it and all-org grants are counted.", q.Type, what)}
		}
		return []string{fmt.Sprintf("%s could not be looked up (%s); grants naming it and all-org grants are counted.", what, lookupFailure(lookupErr, s, q.Type, what))}
	case "authorizations":
		a, err := c.GetAuthorization(ctx, q.ID)
		if err == nil {
			q.Targets = []target{{ID: a.ID, OrgID: a.OrgID, UserID: a.UserID}}
			return nil
		}
		// Counted then: grants on every org's tokens and users, or on
		// instance, and grants naming the token.
		q.Targets = []target{{ID: q.ID, OrgID: unknown, UserID: unknown}}
		return []string{fmt.Sprintf("The org and owner of token %s could not be looked up (%s), so org-wide grants on authorizations are not counted, and of the same action on its owner, which InfluxDB also requires, only grants on every user count.", q.ID, lookupFailure(err, s, q.Type, what))}
	case instanceType:
		q.Targets = []target{{ID: q.ID}}
		return nil
	default:
		// No lookup for other types: their org is not known here.
		q.Targets = []target{{ID: q.ID}}
		return []string{fmt.Sprintf("The org of %s is not looked up, so org-wide grants on %s are not counted; all-org grants and grants naming it are.", what, q.Type)}
	}
	if len(q.Targets) > 0 {
		notes := partialLookup(lookupErr, s, what, q.Type)
		if q.Name == "" {
			return notes
		}
		// InfluxDB lists only the buckets the configured token may read,
		// and says nothing of the others.
		return append(notes, fmt.Sprintf("InfluxDB's buckets API shows only the buckets the configured token may read: a bucket called %q in an org where it may not read buckets is counted only through grants naming it and all-org grants.", clip(q.Name)))
	}
	q.Targets = []target{{ID: q.ID}}
	if q.ID != "" && lookupErr != nil {
		// It may exist and be a system bucket, whose read InfluxDB
		// authorizes as reading its org.
		q.Targets = []target{{ID: q.ID, MaybeSystem: true}}
	} else if strings.HasPrefix(q.Name, "_") {
		q.Targets = []target{{System: true}}
	}
	note := fmt.Sprintf("The org of %s could not be determined", what)
	switch {
	case lookupErr != nil:
		note += " (" + lookupFailure(lookupErr, s, q.Type, what) + ")"
	case q.ID != "":
		// InfluxDB finds a bucket before it checks the caller's rights.
		note = fmt.Sprintf("%s does not exist (InfluxDB's buckets API answered 404), so InfluxDB would refuse every request on it; tokens with grants naming it and all-org grants are listed", what)
		return []string{note + "."}
	default:
		note += " (InfluxDB's " + q.Type + " API does not show it to the configured token: it does not exist, or the token lacks read:" + q.Type + " on it)"
	}
	return []string{note + ", so org-wide grants on " + q.Type + " are not counted; all-org grants and grants naming it are."}
}

// partialLookup notes a lookup that stopped early, at its page bound or at
// the call's deadline: what it found is counted, what it did not reach is
// not.
func partialLookup(err error, s Settings, what, kind string) []string {
	switch {
	case errors.Is(err, influx.ErrTooManyPages):
		return []string{fmt.Sprintf("The lookup of %s stopped after %d pages; %s beyond those were not seen, so grants that reach them only through their org may be missing. Ask with resourceID instead.", what, influx.MaxLookupPages, kind)}
	case errors.Is(err, context.DeadlineExceeded):
		return []string{fmt.Sprintf("The lookup of %s was cut short: %s Grants that reach what it did not see only through its org may be missing.", what, describe(err, s, what, ""))}
	}
	return nil
}

// lookupFailure words why a lookup failed, with the next step.
func lookupFailure(err error, s Settings, kind, what string) string {
	var apiErr *influx.APIError
	if errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden) {
		return fmt.Sprintf("the configured token may not read %s: InfluxDB answered %d; grant it read:%s to have this looked up", kind, apiErr.StatusCode, kind)
	}
	return "looking it up failed: " + describe(err, s, what, "")
}

// notFoundHint is the next step when InfluxDB has no user or org of the
// name a list call gave.
func notFoundHint(q *listQuery, s Settings) string {
	if q.defaultOrg {
		return "Nothing matches " + describeFilter(q.filter) + ", the default org from " + cmp.Or(s.DefaultOrgSource, "INFLUX_ORG, INFLUX_ORG_ID or the influx CLI profile") + "; pass org or orgID to use another, allOrgs: true for every org, or fix that setting."
	}
	return "Nothing matches " + describeFilter(q.filter) + "; check the spelling (names are case-sensitive), or call list_tokens without that argument to see what exists."
}

func describeFilter(f influx.ListFilter) string {
	var parts []string
	for _, kv := range []struct{ k, v string }{{"user", f.User}, {"userID", f.UserID}, {"org", f.Org}, {"orgID", f.OrgID}} {
		if kv.v != "" {
			parts = append(parts, fmt.Sprintf("%s %q", kv.k, clip(kv.v)))
		}
	}
	if len(parts) == 0 {
		return "the token list"
	}
	return strings.Join(parts, " and ")
}
