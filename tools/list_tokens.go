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
	Status        string `json:"status,omitempty" jsonschema:"enum=active,enum=inactive"`
	Description   string `json:"description,omitempty" jsonschema:"case-insensitive substring of the description"`
	Action        string `json:"action,omitempty" jsonschema:"with resourceType: only tokens that grant this action (either if omitted),enum=read,enum=write"`
	ResourceType  string `json:"resourceType,omitempty" jsonschema:"only tokens granting access to this resource type; with resourceID or resourceName to one resource (type-wide and instance-wide grants count as InfluxDB counts them)"` // enum: resourceTypes
	ResourceID    string `json:"resourceID,omitempty" jsonschema:"ID of the one resource (needs resourceType)"`
	ResourceName  string `json:"resourceName,omitempty" jsonschema:"name of the one resource, e.g. a bucket name (needs resourceType)"`
	Risk          string `json:"risk,omitempty" jsonschema:"only tokens with this risk flag,enum=instance-wide,enum=can-create-tokens,enum=inactive,enum=no-description"`
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
			"Token values are never shown. InfluxDB leaves out tokens the configured token may not read."),
		mcp.WithInputSchema[ListTokensInput](),
		withEnum("resourceType", resourceTypes),
		mcp.WithOutputSchema[ListTokensResult](),
		readOnly("List InfluxDB tokens"),
		nonNullable(),
	)
	return server.ServerTool{Tool: tool, Handler: mcp.NewTypedToolHandler(func(ctx context.Context, _ mcp.CallToolRequest, in ListTokensInput) (*mcp.CallToolResult, error) {
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
}

func parseListInput(in ListTokensInput, s Settings) (*listQuery, *mcp.CallToolResult) {
	q := &listQuery{
		filter: influx.ListFilter{User: in.User, UserID: in.UserID, Org: in.Org, OrgID: in.OrgID},
		status: in.Status, description: strings.ToLower(in.Description), risk: in.Risk,
		limit: defaultLimit, offset: in.Offset,
	}
	for _, id := range []struct{ name, value string }{{"userID", in.UserID}, {"orgID", in.OrgID}, {"resourceID", in.ResourceID}} {
		if id.value != "" && influx.ValidateID(id.value) != nil {
			return nil, argError("%s %q is not an InfluxDB ID (16 hexadecimal digits, e.g. 0a1b2c3d4e5f6a7b).", id.name, clip(id.value))
		}
	}
	if in.Org == "" && in.OrgID == "" {
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

// clip keeps echoed arguments short: a model may send megabytes.
func clip(s string) string { return clipN(s, 64) }

// clipN cuts s to at most n bytes, without splitting a character.
func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// keeps reports whether a passes every filter but effective access, which
// needs the whole list first.
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
	auth  *influx.Authorization
	risks []string
}

// page collects the answer of a list_tokens call from matches in any order:
// it counts every match and keeps only the offset+limit oldest (by creation
// time, then ID), among which the page is. A call over 10,000 tokens thus
// holds about a page of them, not the whole list.
type page struct {
	offset, keep int
	oldest       []match // a superset of the keep oldest matches so far
	total        int
	tally        tally
}

func newPage(offset, limit int) *page {
	p := &page{offset: offset}
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
	p.oldest = append(p.oldest, m)
	if len(p.oldest)-p.keep >= max(p.keep, 64) {
		p.trim()
	}
}

// trim sorts the kept matches oldest first and drops all but the keep
// oldest: a dropped one has keep older ones, so it is past the page.
func (p *page) trim() {
	slices.SortFunc(p.oldest, func(a, b match) int {
		return cmp.Or(a.auth.CreatedAt.Compare(b.auth.CreatedAt), strings.Compare(a.auth.ID, b.auth.ID))
	})
	if len(p.oldest) > p.keep {
		clear(p.oldest[p.keep:]) // let the dropped tokens be collected
		p.oldest = p.oldest[:p.keep]
	}
}

// matches returns the page, oldest first.
func (p *page) matches() []match {
	p.trim()
	if p.offset >= len(p.oldest) {
		return nil
	}
	return p.oldest[p.offset:]
}

func listTokens(ctx context.Context, c Client, s Settings, in ListTokensInput) *mcp.CallToolResult {
	q, bad := parseListInput(in, s)
	if bad != nil {
		return bad
	}

	// A token's access to one named resource is known only once every
	// permission has been seen (they tell the resource's org) and the
	// resource has been looked up; such candidates wait in pending. Every
	// other match is decided as it streams past and goes into the page.
	deferred := q.access != nil && q.access.specific()
	var pending []match
	page := newPage(q.offset, q.limit)
	err := c.ListAuthorizations(ctx, q.filter, func(a *influx.Authorization) error {
		if deferred {
			for _, p := range a.Permissions {
				q.access.learn(p)
			}
			// A token lives in its own org, whose ID and name it carries.
			if q.access.Type == "authorizations" && a.ID == q.access.ID ||
				q.access.Type == "orgs" && (a.OrgID == q.access.ID || q.access.Name != "" && a.Org == q.access.Name) {
				q.access.addTarget(resource{ID: cmp.Or(q.access.ID, a.OrgID), OrgID: a.OrgID})
			}
		}
		risks := risksOf(a)
		switch {
		case !q.keeps(a, risks):
		case deferred:
			pending = append(pending, match{auth: a, risks: risks})
		case q.access == nil || q.access.grantedBy(a):
			page.add(match{auth: a, risks: risks})
		}
		return nil
	})
	if err != nil {
		return upstreamError(err, s, describeFilter(q.filter), notFoundHint(q))
	}

	notes := []string{visibilityNote}
	if deferred {
		notes = append(notes, resolveTargets(ctx, c, s, q.access, q.filter)...)
		for _, m := range pending {
			if q.access.grantedBy(m.auth) {
				page.add(m)
			}
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
		t := newToken(m.auth, m.risks)
		if q.access != nil {
			t.grants = []string{}
			for _, p := range m.auth.Permissions {
				if q.access.grants(p) {
					t.grants = append(t.grants, permissionText(p))
				}
			}
		}
		tokens = append(tokens, t)
	}
	return tokens
}

// resolveTargets finds the orgs of the resource an access query names, from
// InfluxDB's buckets and orgs APIs where the configured token may read them,
// on top of what the tokens' own permissions told. It returns notes for what
// could not be resolved.
func resolveTargets(ctx context.Context, c Client, s Settings, q *accessQuery, filter influx.ListFilter) []string {
	what := fmt.Sprintf("%s %q", q.Type, cmp.Or(q.Name, q.ID))
	var lookupErr error
	switch q.Type {
	case "buckets":
		buckets, err := c.FindBuckets(ctx, q.Name, q.ID)
		lookupErr = err
		for _, b := range buckets {
			q.addTarget(resource{ID: b.ID, OrgID: b.OrgID})
		}
	case "orgs":
		// An org's permissions live in the org itself.
		if q.ID != "" {
			q.addTarget(resource{ID: q.ID, OrgID: q.ID})
		} else {
			orgs, err := c.FindOrgs(ctx, q.Name)
			lookupErr = err
			for _, o := range orgs {
				q.addTarget(resource{ID: o.ID, OrgID: o.ID})
			}
		}
	case "authorizations":
		// A token lives in its own org; look it up if the list did not show it.
		if q.ID != "" && !q.resolved() {
			a, err := c.GetAuthorization(ctx, q.ID)
			lookupErr = err
			if err == nil {
				q.addTarget(resource{ID: a.ID, OrgID: a.OrgID})
			}
		}
	case "users", "instance":
		return nil // not owned by an org: only instance-wide and own-ID grants apply
	}
	if !q.resolved() && filter != (influx.ListFilter{}) {
		// The filters may have hidden every permission that names the
		// resource; the whole visible list may still show its org.
		err := c.ListAuthorizations(ctx, influx.ListFilter{}, func(a *influx.Authorization) error {
			for _, p := range a.Permissions {
				q.learn(p)
			}
			return nil
		})
		if lookupErr == nil {
			lookupErr = err
		}
	}
	// A lookup cut short found some orgs, maybe not all.
	switch {
	case errors.Is(lookupErr, influx.ErrTooManyPages):
		return []string{fmt.Sprintf("The lookup of %s stopped after %d pages of buckets of that name; org-wide grants on buckets in orgs beyond those may be missing. Ask with resourceID instead.", what, influx.MaxLookupPages)}
	case q.resolved() && errors.Is(lookupErr, context.DeadlineExceeded):
		return []string{fmt.Sprintf("The lookup of %s was cut short: %s Org-wide grants on %s in orgs it did not reach may be missing.", what, describe(lookupErr, s, what, ""), q.Type)}
	}
	if q.resolved() {
		return nil
	}
	note := fmt.Sprintf("The org of %s could not be determined (no listed permission names it", what)
	var apiErr *influx.APIError
	switch {
	case errors.As(lookupErr, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden):
		note += fmt.Sprintf(", and the configured token may not read %s: InfluxDB answered %d; grant it read:%s to have org-wide grants counted", q.Type, apiErr.StatusCode, q.Type)
	case lookupErr != nil:
		note += ", and looking it up failed: " + describe(lookupErr, s, what, "")
	case q.Type == "buckets" || q.Type == "orgs":
		note += ", and InfluxDB's " + q.Type + " API does not show it to the configured token"
	}
	note += "), so org-wide grants on " + q.Type + " are not counted; instance-wide grants and grants naming it are."
	return []string{note}
}

// notFoundHint is the next step when InfluxDB has no user or org of the
// name a list call gave.
func notFoundHint(q *listQuery) string {
	if q.defaultOrg {
		return "Nothing matches " + describeFilter(q.filter) + ", the default org from INFLUX_ORG or INFLUX_ORG_ID; pass org or orgID to use another, or fix that setting."
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
