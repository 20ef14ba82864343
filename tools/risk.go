package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// Risk flags. The README defines each; keep the two in step.
const (
	riskInstanceWide    = "instance-wide"     // on type instance, or on a type in every org (reading the user or org directory aside)
	riskCanCreateTokens = "can-create-tokens" // InfluxDB would let it create a token: write on authorizations and on some user
	riskDangling        = "dangling"          // a permission's id names a bucket, org, user or token that no longer exists
	riskInactive        = "inactive"          // status inactive
	riskNoDescription   = "no-description"    // description empty or blank
)

var riskFlags = []string{riskInstanceWide, riskCanCreateTokens, riskDangling, riskInactive, riskNoDescription}

// RiskReason says why a token has one risk flag.
type RiskReason struct {
	Risk        string   `json:"risk"`
	Permissions []string `json:"permissions" jsonschema:"the permissions that raise the flag; empty for inactive and no-description"`
}

// risksOf returns a's risk flags in the order of riskFlags (never nil) and
// the permissions that raise each. dir, when not nil, tells which ids name
// resources that no longer exist.
func risksOf(ctx context.Context, a *influx.Authorization, dir *directory) ([]string, []RiskReason) {
	var instanceWide, authzWriters, userWriters, dangling []influx.Permission
	for _, p := range a.Permissions {
		r := p.Resource
		// Reading every user or org is reading the directory of names, which
		// the least-privilege audit token needs; anything else on every org
		// reaches all of them.
		if r.Type == instanceType || r.OrgID == "" && r.ID == "" && !(p.Action == "read" && (r.Type == "users" || r.Type == "orgs")) {
			instanceWide = append(instanceWide, p)
		}
		// CreateAuthorization checks write on authorizations in the new
		// token's org (no id) and write on its owner by id alone (no org).
		// A permission with an id cannot match the first; one on users
		// scoped to an org without id cannot match the second.
		if p.Action == "write" && (r.Type == instanceType || r.Type == "authorizations" && r.ID == "") {
			authzWriters = append(authzWriters, p)
		}
		if p.Action == "write" && (r.Type == instanceType || r.Type == "users" && (r.ID == "" && r.OrgID == "" || r.ID != "" && !dir.dangling(ctx, "users", r.ID))) {
			userWriters = append(userWriters, p)
		}
		if r.ID != "" && slices.Contains(existenceKinds, r.Type) && dir.dangling(ctx, r.Type, r.ID) {
			dangling = append(dangling, p)
		}
	}
	risks, reasons := []string{}, []RiskReason{}
	flag := func(risk string, ps ...influx.Permission) {
		risks = append(risks, risk)
		reason := RiskReason{Risk: risk, Permissions: []string{}}
		for _, p := range ps {
			if s := permissionString(p); !slices.Contains(reason.Permissions, s) {
				reason.Permissions = append(reason.Permissions, s)
			}
		}
		reasons = append(reasons, reason)
	}
	if len(instanceWide) > 0 {
		flag(riskInstanceWide, instanceWide...)
	}
	if len(authzWriters) > 0 && len(userWriters) > 0 {
		flag(riskCanCreateTokens, append(authzWriters, userWriters...)...)
	}
	if len(dangling) > 0 {
		flag(riskDangling, dangling...)
	}
	if a.Status == "inactive" {
		flag(riskInactive)
	}
	if strings.TrimSpace(a.Description) == "" {
		flag(riskNoDescription)
	}
	return risks, reasons
}

// existenceKinds are the resource types whose existence InfluxDB's API
// tells, for the dangling flag.
var existenceKinds = []string{"buckets", "orgs", "users", "authorizations"}

// maxExistenceLookups bounds the one-by-one lookups of a call.
const maxExistenceLookups = 100

// directory knows which buckets, orgs, users and tokens exist, as far as
// InfluxDB's APIs tell the configured token. It lists each kind once, when
// a permission first names one, and asks about ids the list did not show
// one at a time (GET /api/v2/{kind}/{id}).
type directory struct {
	c       Client
	known   map[string]bool  // kind/id → exists
	listed  map[string]bool  // kind → listed
	blocked map[string]error // kind → the failure that stopped lookups
	refused map[string]error // kind → the last failed lookup
	lookups int
	skipped map[string]int // kind → ids left unchecked
}

func newDirectory(c Client) *directory {
	return &directory{c: c, known: map[string]bool{}, listed: map[string]bool{}, blocked: map[string]error{}, refused: map[string]error{}, skipped: map[string]int{}}
}

// dangling reports whether id of kind is known not to exist. A nil
// directory knows nothing.
func (d *directory) dangling(ctx context.Context, kind, id string) bool {
	if d == nil || influx.ValidateID(id) != nil {
		return false
	}
	key := kind + "/" + id
	if exists, ok := d.known[key]; ok {
		return !exists
	}
	if !d.listed[kind] {
		d.listed[kind] = true
		d.list(ctx, kind)
		if exists, ok := d.known[key]; ok {
			return !exists
		}
	}
	if d.blocked[kind] != nil || d.lookups >= maxExistenceLookups {
		d.skipped[kind]++
		d.known[key] = true // counted once; assume it exists
		return false
	}
	d.lookups++
	exists, err := d.c.Exists(ctx, kind, id)
	if isRefusal(err) && (kind == "buckets" || kind == "authorizations") {
		// InfluxDB finds a bucket or a token before it checks the caller's
		// rights (tenant.AuthedBucketService.FindBucketByID,
		// authorizer.AuthorizationService.FindAuthorizationByID): refused
		// means it exists.
		exists, err = true, nil
	}
	if err != nil {
		// InfluxDB checks rights on orgs and users per id, so a refusal
		// says nothing of the next id; any other failure stops asking.
		d.refused[kind] = err
		if !isRefusal(err) {
			d.blocked[kind] = err
		}
		d.skipped[kind]++
		d.known[key] = true
		return false
	}
	d.known[key] = exists
	return !exists
}

// list marks what InfluxDB lists of kind as existing. A failed list is no
// loss: the ids are then looked up one by one.
func (d *directory) list(ctx context.Context, kind string) {
	var ids []string
	switch kind {
	case "buckets":
		bs, _ := d.c.FindBuckets(ctx, "", "")
		for _, b := range bs {
			ids = append(ids, b.ID)
		}
	case "orgs":
		os, _ := d.c.FindOrgs(ctx, "")
		for _, o := range os {
			ids = append(ids, o.ID)
		}
	case "users":
		us, _ := d.c.FindUsers(ctx, "")
		for _, u := range us {
			ids = append(ids, u.ID)
		}
	}
	for _, id := range ids {
		d.known[kind+"/"+id] = true
	}
}

// isRefusal reports whether InfluxDB refused the configured token (401 or
// 403).
func isRefusal(err error) bool {
	var apiErr *influx.APIError
	return errors.As(err, &apiErr) && (apiErr.StatusCode == http.StatusUnauthorized || apiErr.StatusCode == http.StatusForbidden)
}

// notes say which ids could not be checked, and why.
func (d *directory) notes(s Settings) []string {
	var out []string
	for _, kind := range existenceKinds {
		n := d.skipped[kind]
		if n == 0 {
			continue
		}
		why := fmt.Sprintf("more than %d lookups would be needed", maxExistenceLookups)
		var apiErr *influx.APIError
		switch err := d.refused[kind]; {
		case isRefusal(err) && errors.As(err, &apiErr):
			why = fmt.Sprintf("the configured token may not read them (InfluxDB answered %d); grant it read:/%s to have this checked", apiErr.StatusCode, kind)
		case err != nil:
			why = "looking them up failed: " + describe(err, s, kind, "")
		}
		out = append(out, fmt.Sprintf("Whether %d %s named by permissions still exist could not be checked, so the dangling flag is not set for them: %s.", n, kind, why))
	}
	return out
}
