package testserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"time"

	influxdb "github.com/influxdata/influxdb/v2"
)

// Organisation names.
const (
	OrgAcme   = DefaultOrg // onboarded by Start
	OrgGlobex = "globex"
)

// User names. UserAdmin is the onboarded operator.
const (
	UserAdmin = DefaultUser
	UserAlice = "alice"
	UserBob   = "bob"
	UserCarol = "carol"
)

// Bucket keys in Fixtures.Buckets ("<org>/<bucket>").
const (
	BucketAcmeTelegraf   = OrgAcme + "/telegraf" // onboarded by Start
	BucketAcmeMetrics    = OrgAcme + "/metrics"
	BucketAcmeScratch    = OrgAcme + "/scratch" // deleted after a token was granted on it
	BucketGlobexTelegraf = OrgGlobex + "/telegraf"
)

// Token fixture names (keys in Fixtures.Tokens). Each has a distinct
// description (see Seed).
const (
	// Onboarding's operator token: admin, every permission on every org
	// ("read:authorizations", "write:buckets", …), description "admin's Token".
	TokOperator = "operator"
	// admin's all-access token for acme, as `influx auth create --all-access`
	// makes it: read+write on every org-scoped type in acme, read:orgs/<acme>,
	// read+write on the owner's own user.
	TokAcmeAllAccess = "acme-all-access"
	// alice: write:orgs/acme/buckets/<acme telegraf>, description "telegraf writer".
	TokAliceTelegrafWriter = "alice-telegraf-writer"
	// alice: read:orgs/acme/buckets/<acme metrics>, empty description.
	TokAliceNoDescription = "alice-no-description"
	// bob: read:orgs/acme/buckets (every bucket in acme).
	TokBobBucketsReader = "bob-buckets-reader"
	// bob: write:orgs/acme/buckets/<acme metrics>, status inactive (PATCHed).
	TokBobInactive = "bob-inactive"
	// carol: write:orgs/acme/authorizations — can mint tokens.
	TokCarolTokenAdmin = "carol-token-admin"
	// carol: read:orgs/acme/buckets/<acme scratch>, a bucket deleted after
	// the grant: the server returns the permission without name and org.
	TokCarolDeletedBucket = "carol-deleted-bucket"
	// alice: write:orgs/globex/buckets (every bucket in globex).
	TokGlobexBucketsWriter = "globex-buckets-writer"
	// bob: write:orgs/globex/buckets/<globex telegraf>.
	TokGlobexTelegrafWriter = "globex-telegraf-writer"

	// Calling tokens for audits, all owned by carol in acme:

	// read:orgs/acme/authorizations + read:users: sees every acme token.
	TokAuditor = "auditor"
	// read:orgs/acme/authorizations + read:users/<carol> (no type-wide
	// read:users): sees only carol's acme tokens; other users' tokens are
	// silently left out.
	TokAuditorRestricted = "auditor-restricted"
	// read:orgs/acme/authorizations and no users permission at all: a list
	// comes back empty (200), although acme has many tokens.
	TokAuditorBlind = "auditor-blind"
	// Like TokAuditor but inactive: lists come back empty (200).
	TokAuditorInactive = "auditor-inactive"
)

// Org is an organisation fixture.
type Org struct {
	Name string
	ID   string
}

// User is a user fixture.
type User struct {
	Name string
	ID   string
}

// Bucket is a bucket fixture.
type Bucket struct {
	Name    string
	ID      string
	Org     string
	OrgID   string
	Deleted bool // deleted after tokens were granted on it
}

// Permission is one permission of a token fixture, as it was granted.
type Permission struct {
	Action string // "read" or "write"
	Type   string // resource type, e.g. "buckets"
	ID     string // empty: every resource of the type
	OrgID  string // empty: every org (operator permissions)
}

// String renders the permission the way InfluxDB does, e.g.
// "write:orgs/<orgID>/buckets/<bucketID>", "read:orgs/<orgID>/buckets",
// "read:users/<userID>", "read:authorizations".
func (p Permission) String() string {
	r := p.Type
	if p.ID != "" {
		r = path.Join(p.Type, p.ID)
	}
	if p.OrgID != "" {
		r = path.Join("orgs", p.OrgID, r)
	}
	return p.Action + ":" + r
}

// Token is a token (authorization) fixture.
type Token struct {
	Name        string // fixture name, e.g. TokAliceTelegrafWriter
	ID          string
	Token       string // the secret value: must never leak through the MCP server
	Description string
	Status      string // "active" or "inactive"
	User        string
	UserID      string
	Org         string
	OrgID       string
	Permissions []Permission
	// CreatedAt and UpdatedAt as InfluxDB reports them: Seed spreads the
	// creation times over the past two years (see tokenAges).
	CreatedAt, UpdatedAt time.Time
}

// Fixtures is what Seed created.
type Fixtures struct {
	Orgs    map[string]Org    // by name: OrgAcme, OrgGlobex
	Users   map[string]User   // by name: UserAdmin, UserAlice, UserBob, UserCarol
	Buckets map[string]Bucket // by "<org>/<bucket>": BucketAcmeTelegraf, …
	Tokens  map[string]Token  // by fixture name: TokOperator, …

	// WrongToken is well-formed like a real token but matches none.
	WrongToken string
}

// Token returns the named token fixture and panics if there is none, so a
// misspelt name fails loudly.
func (f *Fixtures) Token(name string) Token {
	t, ok := f.Tokens[name]
	if !ok {
		panic(fmt.Sprintf("testserver: no token fixture %q", name))
	}
	return t
}

// TokenNames returns the token fixture names, sorted.
func (f *Fixtures) TokenNames() []string {
	names := make([]string, 0, len(f.Tokens))
	for n := range f.Tokens {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Secrets returns every token value the fixtures hold, including
// WrongToken: none of them may appear in anything shown to a model.
func (f *Fixtures) Secrets() []string {
	s := []string{f.WrongToken}
	for _, n := range f.TokenNames() {
		s = append(s, f.Tokens[n].Token)
	}
	return s
}

// TokenByID returns the token fixture with the given authorization ID.
func (f *Fixtures) TokenByID(id string) (Token, bool) {
	for _, t := range f.Tokens {
		if t.ID == id {
			return t, true
		}
	}
	return Token{}, false
}

// Filter returns the names (sorted) of the token fixtures for which keep
// returns true.
func (f *Fixtures) Filter(keep func(Token) bool) []string {
	var names []string
	for _, n := range f.TokenNames() {
		if keep(f.Tokens[n]) {
			names = append(names, n)
		}
	}
	return names
}

// Seed creates the audit fixtures on a freshly started server through the
// HTTP API, authenticated with the operator token: the org globex; users
// alice, bob and carol (members of acme; alice and bob also of globex);
// buckets metrics and scratch in acme and telegraf in globex (telegraf in
// acme comes from onboarding); the tokens named by the Tok* constants, each
// then given the creation time of tokenAges. It deletes bucket acme/scratch
// last. Call it once per server.
func Seed(ctx context.Context, srv *Server) (*Fixtures, error) {
	s := seeder{srv: srv, c: srv.Client(srv.OperatorToken), now: time.Now().UTC().Truncate(time.Second), f: &Fixtures{
		Orgs:    map[string]Org{},
		Users:   map[string]User{},
		Buckets: map[string]Bucket{},
		Tokens:  map[string]Token{},
	}}
	if err := s.run(ctx, srv); err != nil {
		return nil, fmt.Errorf("testserver: seed: %w", err)
	}
	return s.f, nil
}

type seeder struct {
	srv *Server
	c   *Client
	now time.Time // creation times are counted back from here
	f   *Fixtures
}

// tokenAges says how long ago, in days, each token fixture was created, so
// that questions about old tokens and createdBefore/createdAfter have answers
// in the demo: the operator token from onboarding two years ago, the
// auditors in the past months. deactivated says how many days ago an
// inactive token was switched off (its updatedAt). The ages are distinct, so
// the oldest-first order is the order of this table.
var tokenAges = map[string]struct{ created, deactivated int }{
	TokOperator:             {730, 0},
	TokAcmeAllAccess:        {702, 0},
	TokAliceTelegrafWriter:  {611, 0},
	TokAliceNoDescription:   {540, 0},
	TokBobBucketsReader:     {466, 0},
	TokBobInactive:          {401, 122},
	TokCarolTokenAdmin:      {333, 0},
	TokCarolDeletedBucket:   {259, 0},
	TokGlobexBucketsWriter:  {198, 0},
	TokGlobexTelegrafWriter: {151, 0},
	TokAuditorInactive:      {93, 8},
	TokAuditor:              {61, 0},
	TokAuditorRestricted:    {29, 0},
	TokAuditorBlind:         {13, 0},
}

func (s *seeder) run(ctx context.Context, srv *Server) error {
	f := s.f

	// Orgs.
	f.Orgs[OrgAcme] = Org{Name: srv.Org, ID: srv.OrgID}
	if srv.Org != OrgAcme {
		return fmt.Errorf("server was onboarded with org %q, Seed needs %q", srv.Org, OrgAcme)
	}
	var org struct{ ID, Name string }
	if err := s.c.Do(ctx, http.MethodPost, "/api/v2/orgs", map[string]string{"name": OrgGlobex}, &org); err != nil {
		return err
	}
	f.Orgs[OrgGlobex] = Org{Name: org.Name, ID: org.ID}
	acme, globex := f.Orgs[OrgAcme].ID, f.Orgs[OrgGlobex].ID

	// Users and memberships.
	f.Users[UserAdmin] = User{Name: srv.User, ID: srv.UserID}
	for _, name := range []string{UserAlice, UserBob, UserCarol} {
		var u struct{ ID, Name string }
		if err := s.c.Do(ctx, http.MethodPost, "/api/v2/users", map[string]string{"name": name}, &u); err != nil {
			return err
		}
		f.Users[name] = User{Name: u.Name, ID: u.ID}
	}
	members := map[string][]string{
		acme:   {UserAlice, UserBob, UserCarol},
		globex: {UserAlice, UserBob},
	}
	for orgID, names := range members {
		for _, n := range names {
			if err := s.c.Do(ctx, http.MethodPost, "/api/v2/orgs/"+orgID+"/members",
				map[string]string{"id": f.Users[n].ID}, nil); err != nil {
				return err
			}
		}
	}

	// Buckets.
	for _, b := range []struct{ key, org, name string }{
		{BucketAcmeTelegraf, OrgAcme, "telegraf"},
		{BucketAcmeMetrics, OrgAcme, "metrics"},
		{BucketAcmeScratch, OrgAcme, "scratch"},
		{BucketGlobexTelegraf, OrgGlobex, "telegraf"},
	} {
		if err := s.bucket(ctx, b.key, f.Orgs[b.org], b.name); err != nil {
			return err
		}
	}
	bucketID := func(key string) string { return f.Buckets[key].ID }

	// Tokens.
	f.Tokens[TokOperator] = Token{
		Name: TokOperator, ID: srv.OperatorTokenID, Token: srv.OperatorToken,
		Description: srv.User + "'s Token", Status: "active",
		User: srv.User, UserID: srv.UserID, Org: srv.Org, OrgID: srv.OrgID,
		Permissions: toPermissions(influxdb.OperPermissions()),
	}
	specs := []tokenSpec{
		{TokAcmeAllAccess, UserAdmin, OrgAcme, "acme all-access token", false,
			allAccess(acme, f.Users[UserAdmin].ID)},
		{TokAliceTelegrafWriter, UserAlice, OrgAcme, "telegraf writer", false,
			[]Permission{{"write", "buckets", bucketID(BucketAcmeTelegraf), acme}}},
		{TokAliceNoDescription, UserAlice, OrgAcme, "", false,
			[]Permission{{"read", "buckets", bucketID(BucketAcmeMetrics), acme}}},
		{TokBobBucketsReader, UserBob, OrgAcme, "bob reads every acme bucket", false,
			[]Permission{{"read", "buckets", "", acme}}},
		{TokBobInactive, UserBob, OrgAcme, "bob's retired metrics writer", true,
			[]Permission{{"write", "buckets", bucketID(BucketAcmeMetrics), acme}}},
		{TokCarolTokenAdmin, UserCarol, OrgAcme, "carol mints acme tokens", false,
			[]Permission{{"write", "authorizations", "", acme}}},
		{TokCarolDeletedBucket, UserCarol, OrgAcme, "carol reads the scratch bucket (since deleted)", false,
			[]Permission{{"read", "buckets", bucketID(BucketAcmeScratch), acme}}},
		{TokGlobexBucketsWriter, UserAlice, OrgGlobex, "globex: write every bucket", false,
			[]Permission{{"write", "buckets", "", globex}}},
		{TokGlobexTelegrafWriter, UserBob, OrgGlobex, "globex telegraf writer", false,
			[]Permission{{"write", "buckets", bucketID(BucketGlobexTelegraf), globex}}},
		{TokAuditor, UserCarol, OrgAcme, "acme token auditor", false,
			[]Permission{{"read", "authorizations", "", acme}, {"read", "users", "", ""}}},
		{TokAuditorRestricted, UserCarol, OrgAcme, "restricted auditor: reads own user only", false,
			[]Permission{{"read", "authorizations", "", acme}, {"read", "users", f.Users[UserCarol].ID, ""}}},
		{TokAuditorBlind, UserCarol, OrgAcme, "blind auditor: authorizations only", false,
			[]Permission{{"read", "authorizations", "", acme}}},
		{TokAuditorInactive, UserCarol, OrgAcme, "inactive auditor", true,
			[]Permission{{"read", "authorizations", "", acme}, {"read", "users", "", ""}}},
	}
	for _, spec := range specs {
		if err := s.token(ctx, spec); err != nil {
			return err
		}
	}
	for _, name := range f.TokenNames() {
		if err := s.backdate(ctx, name); err != nil {
			return err
		}
	}

	// Delete the scratch bucket now that a token points at it.
	scratch := f.Buckets[BucketAcmeScratch]
	if err := s.c.Do(ctx, http.MethodDelete, "/api/v2/buckets/"+scratch.ID, nil, nil); err != nil {
		return err
	}
	scratch.Deleted = true
	f.Buckets[BucketAcmeScratch] = scratch

	wrong, err := randomToken()
	if err != nil {
		return err
	}
	f.WrongToken = wrong
	return nil
}

// bucket finds (onboarding made acme/telegraf) or creates a bucket.
func (s *seeder) bucket(ctx context.Context, key string, org Org, name string) error {
	type bucket struct{ ID, Name, OrgID string }
	var found struct{ Buckets []bucket }
	q := url.Values{"name": {name}, "orgID": {org.ID}}
	// The real server answers 404 (not an empty list) when no bucket has
	// the name.
	var apiErr *APIError
	if err := s.c.Get(ctx, "/api/v2/buckets?"+q.Encode(), &found); err != nil &&
		!(errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound) {
		return err
	}
	var b bucket
	if len(found.Buckets) == 1 {
		b = found.Buckets[0]
	} else {
		req := map[string]any{"orgID": org.ID, "name": name, "retentionRules": []any{}}
		if err := s.c.Do(ctx, http.MethodPost, "/api/v2/buckets", req, &b); err != nil {
			return err
		}
	}
	s.f.Buckets[key] = Bucket{Name: b.Name, ID: b.ID, Org: org.Name, OrgID: org.ID}
	return nil
}

type tokenSpec struct {
	name, user, org, description string
	inactive                     bool
	perms                        []Permission
}

func (s *seeder) token(ctx context.Context, spec tokenSpec) error {
	user, org := s.f.Users[spec.user], s.f.Orgs[spec.org]
	type resource struct {
		Type  string `json:"type"`
		ID    string `json:"id,omitempty"`
		OrgID string `json:"orgID,omitempty"`
	}
	type permission struct {
		Action   string   `json:"action"`
		Resource resource `json:"resource"`
	}
	perms := make([]permission, len(spec.perms))
	for i, p := range spec.perms {
		perms[i] = permission{p.Action, resource{p.Type, p.ID, p.OrgID}}
	}
	req := map[string]any{
		"orgID":       org.ID,
		"userID":      user.ID,
		"description": spec.description,
		"permissions": perms,
	}
	var created struct{ ID, Token, Status string }
	if err := s.c.Do(ctx, http.MethodPost, "/api/v2/authorizations", req, &created); err != nil {
		return fmt.Errorf("token %s: %w", spec.name, err)
	}
	if created.Token == "" {
		return fmt.Errorf("token %s: created without a token value", spec.name)
	}
	status := created.Status
	if spec.inactive {
		var updated struct{ Status string }
		if err := s.c.Do(ctx, http.MethodPatch, "/api/v2/authorizations/"+created.ID,
			map[string]string{"status": "inactive"}, &updated); err != nil {
			return fmt.Errorf("token %s: %w", spec.name, err)
		}
		status = updated.Status
	}
	s.f.Tokens[spec.name] = Token{
		Name: spec.name, ID: created.ID, Token: created.Token,
		Description: spec.description, Status: status,
		User: user.Name, UserID: user.ID, Org: org.Name, OrgID: org.ID,
		Permissions: spec.perms,
	}
	return nil
}

// backdate gives a token fixture its creation time from tokenAges, and an
// inactive one the time it was switched off as its updatedAt.
func (s *seeder) backdate(ctx context.Context, name string) error {
	age, ok := tokenAges[name]
	if !ok {
		return fmt.Errorf("token %s: no entry in tokenAges", name)
	}
	day := 24 * time.Hour
	created := s.now.Add(-time.Duration(age.created) * day)
	updated := created
	if age.deactivated > 0 {
		updated = s.now.Add(-time.Duration(age.deactivated) * day)
	}
	tok := s.f.Tokens[name]
	if err := s.srv.SetTokenTimes(ctx, tok.ID, created, updated); err != nil {
		return err
	}
	tok.CreatedAt, tok.UpdatedAt = created, updated
	s.f.Tokens[name] = tok
	return nil
}

// allAccess returns the permissions the influx CLI gives an all-access token
// (`influx auth create --all-access`; the UI's "All Access API Token" is
// alike): read and write on every resource type in the org, except that the
// org itself is read-only, users are limited to the owner and the
// instance type is left out.
func allAccess(orgID, userID string) []Permission {
	var ps []Permission
	for _, t := range influxdb.AllResourceTypes {
		switch t {
		case influxdb.InstanceResourceType:
		case influxdb.OrgsResourceType:
			ps = append(ps, Permission{"read", string(t), orgID, ""})
		case influxdb.UsersResourceType:
			ps = append(ps, Permission{"read", string(t), userID, ""}, Permission{"write", string(t), userID, ""})
		default:
			ps = append(ps, Permission{"read", string(t), "", orgID}, Permission{"write", string(t), "", orgID})
		}
	}
	return ps
}

func toPermissions(ps []influxdb.Permission) []Permission {
	out := make([]Permission, len(ps))
	for i, p := range ps {
		out[i] = Permission{Action: string(p.Action), Type: string(p.Resource.Type)}
		if p.Resource.ID != nil {
			out[i].ID = p.Resource.ID.String()
		}
		if p.Resource.OrgID != nil {
			out[i].OrgID = p.Resource.OrgID.String()
		}
	}
	return out
}

// randomToken returns a value shaped like InfluxDB's generated tokens (64
// random bytes, URL-safe base64).
func randomToken() (string, error) {
	b := make([]byte, 64)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.URLEncoding.EncodeToString(b), nil
}
