// Package testserver runs the real InfluxDB OSS HTTP handlers for users,
// organisations, buckets, onboarding and authorizations (API tokens)
// in-process, on a loopback port, over an in-memory store. The module builds
// against InfluxDB v2.8.0 with go.mod and v2.10.0 with go.v2.10.mod; the
// code is the same for both.
//
// The services and handlers are wired the way influxd's launcher
// (cmd/influxd/launcher/launcher.go) wires them, with InfluxDB's own
// authentication middleware in front, so requests meet the same
// authorization checks, filters, error bodies and status codes as on a real
// server. Everything else influxd serves (queries, writes, tasks, the UI, …)
// is left out. Start onboards the instance through POST /api/v2/setup; Seed
// then creates the audit fixtures through the HTTP API.
package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"time"

	influxdb "github.com/influxdata/influxdb/v2"
	"github.com/influxdata/influxdb/v2/authorization"
	ihttp "github.com/influxdata/influxdb/v2/http"
	"github.com/influxdata/influxdb/v2/inmem"
	"github.com/influxdata/influxdb/v2/kit/metric"
	"github.com/influxdata/influxdb/v2/kit/platform"
	ierrors "github.com/influxdata/influxdb/v2/kit/platform/errors"
	"github.com/influxdata/influxdb/v2/kit/prom"
	kithttp "github.com/influxdata/influxdb/v2/kit/transport/http"
	"github.com/influxdata/influxdb/v2/kv"
	"github.com/influxdata/influxdb/v2/kv/migration"
	"github.com/influxdata/influxdb/v2/kv/migration/all"
	"github.com/influxdata/influxdb/v2/label"
	"github.com/influxdata/influxdb/v2/secret"
	"github.com/influxdata/influxdb/v2/session"
	"github.com/influxdata/influxdb/v2/tenant"
	"go.uber.org/zap"
)

// InfluxDBVersion is the version of the InfluxDB server code this package
// runs, e.g. "2.8.0" or "2.10.0": the one the module file of the build
// requires. It is reported in the X-Influxdb-Version response header.
var InfluxDBVersion = influxDBModuleVersion()

// influxDBModuleVersion reads the InfluxDB module's version from the name of
// a source file of it, which the go command records as
// ".../github.com/influxdata/influxdb/v2@v2.10.0/build.go" (with or without
// -trimpath). runtime/debug.ReadBuildInfo would be the obvious source, but
// test binaries built by Go 1.26 list no dependencies there.
func influxDBModuleVersion() string {
	const module = "github.com/influxdata/influxdb/v2@v"
	pc := reflect.ValueOf(influxdb.SetBuildInfo).Pointer()
	file, _ := runtime.FuncForPC(pc).FileLine(pc)
	_, rest, found := strings.Cut(file, module)
	version, _, _ := strings.Cut(rest, "/")
	if !found || version == "" {
		panic("testserver: no InfluxDB module version in " + file)
	}
	return version
}

// HashedTokensByDefault reports whether influxd of InfluxDBVersion stores
// hashed tokens unless told otherwise: from 2.9.0 on (see InfluxDB's
// authorization/storage.go; 2.8 had it as an opt-in). Start itself always
// does what Options.HashedTokens says.
func HashedTokensByDefault() bool {
	var major, minor int
	if _, err := fmt.Sscanf(InfluxDBVersion, "%d.%d", &major, &minor); err != nil {
		panic("testserver: InfluxDB version " + InfluxDBVersion + ": " + err.Error())
	}
	return major > 2 || major == 2 && minor >= 9
}

// Defaults for the onboarding request sent by Start.
const (
	DefaultUser     = "admin"
	DefaultPassword = "admin-password-not-secret"
	DefaultOrg      = "acme"
	DefaultBucket   = "telegraf"
)

// Options configures Start. The zero value is usable.
type Options struct {
	// Addr is the TCP address to listen on; "" means "127.0.0.1:0" (a free
	// loopback port).
	Addr string

	// HashedTokens runs the authorization store with InfluxDB's
	// "use hashed tokens" option (influxd --use-hashed-tokens, the default
	// from 2.9 on; see HashedTokensByDefault): only a SHA-512 hash of each
	// token is stored, and reads (list and get) return an empty "token".
	// The value is still returned once, when a token is created.
	HashedTokens bool

	// Onboarding values; empty means DefaultUser, DefaultPassword,
	// DefaultOrg and DefaultBucket. OperatorToken, if set, becomes the
	// operator token's value; otherwise the server generates one.
	User, Password, Org, Bucket string
	OperatorToken               string

	// Logger receives InfluxDB's own logs. nil discards them.
	Logger *zap.Logger
}

// Server is a running InfluxDB API server, onboarded with one operator
// user, organisation, bucket and operator token.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:41234" (no trailing slash).
	URL string
	// Addr is the host:port the server listens on.
	Addr string
	// HashedTokens reports whether the server stores hashed tokens only.
	HashedTokens bool

	// The onboarding results.
	OperatorToken   string // value of the operator (instance-wide) token
	OperatorTokenID string
	User            string
	UserID          string
	Org             string
	OrgID           string
	Bucket          string
	BucketID        string

	authStore  *authorization.Store // for SetTokenTimes
	httpServer *http.Server
	serveErr   chan error
	closeOnce  sync.Once
	closeErr   error
}

// Start runs the server and onboards it. Close it when done.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.User == "" {
		opts.User = DefaultUser
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	if opts.Org == "" {
		opts.Org = DefaultOrg
	}
	if opts.Bucket == "" {
		opts.Bucket = DefaultBucket
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}

	handler, authStore, err := newHandler(ctx, log, opts.HashedTokens)
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("testserver: listen: %w", err)
	}
	s := &Server{
		URL:          "http://" + ln.Addr().String(),
		Addr:         ln.Addr().String(),
		HashedTokens: opts.HashedTokens,
		authStore:    authStore,
		httpServer: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          zap.NewStdLog(log),
		},
		serveErr: make(chan error, 1),
	}
	go func() { s.serveErr <- s.httpServer.Serve(ln) }()

	if err := s.onboard(ctx, opts); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server and drops its data.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.closeErr = s.httpServer.Shutdown(ctx)
		if err := <-s.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

// SetTokenTimes sets the createdAt and updatedAt of the token with the
// given authorization ID. InfluxDB stamps both with its own clock (time.Now)
// and has no API to change them, so this writes the stored record directly,
// the way InfluxDB's own UpdateAuthorization does; the demo needs tokens of
// different ages.
func (s *Server) SetTokenTimes(ctx context.Context, id string, created, updated time.Time) error {
	authID, err := platform.IDFromString(id)
	if err != nil {
		return fmt.Errorf("testserver: token ID %q: %w", id, err)
	}
	err = s.authStore.Update(ctx, func(tx kv.Tx) error {
		a, err := s.authStore.GetAuthorizationByID(ctx, tx, *authID)
		if err != nil {
			return err
		}
		a.CreatedAt, a.UpdatedAt = created, updated
		_, err = s.authStore.UpdateAuthorization(ctx, tx, *authID, a)
		return err
	})
	if err != nil {
		return fmt.Errorf("testserver: set times of token %s: %w", id, err)
	}
	return nil
}

// Client returns an API client for this server that authenticates with token.
func (s *Server) Client(token string) *Client {
	return NewClient(s.URL, token)
}

func (s *Server) onboard(ctx context.Context, opts Options) error {
	req := map[string]any{
		"username": opts.User,
		"password": opts.Password,
		"org":      opts.Org,
		"bucket":   opts.Bucket,
	}
	if opts.OperatorToken != "" {
		req["token"] = opts.OperatorToken
	}
	var res struct {
		User   struct{ ID, Name string }  `json:"user"`
		Org    struct{ ID, Name string }  `json:"org"`
		Bucket struct{ ID, Name string }  `json:"bucket"`
		Auth   struct{ ID, Token string } `json:"auth"`
	}
	if err := NewClient(s.URL, "").Do(ctx, http.MethodPost, "/api/v2/setup", req, &res); err != nil {
		return fmt.Errorf("testserver: onboarding: %w", err)
	}
	if res.Auth.Token == "" {
		return errors.New("testserver: onboarding returned no operator token")
	}
	s.OperatorToken, s.OperatorTokenID = res.Auth.Token, res.Auth.ID
	s.User, s.UserID = res.User.Name, res.User.ID
	s.Org, s.OrgID = res.Org.Name, res.Org.ID
	s.Bucket, s.BucketID = res.Bucket.Name, res.Bucket.ID
	return nil
}

// newHandler wires InfluxDB's stores, services and HTTP handlers the way
// cmd/influxd/launcher/launcher.go does, limited to what token audits touch.
var setBuildInfo sync.Once

func newHandler(ctx context.Context, log *zap.Logger, hashedTokens bool) (http.Handler, *authorization.Store, error) {
	// SetBuildInfo writes a global that running servers read: once only.
	setBuildInfo.Do(func() { influxdb.SetBuildInfo(InfluxDBVersion, "", "") })
	reg := prom.NewRegistry(log.With(zap.String("service", "prom_registry")))

	// Metadata store: in-memory KV, migrated to the current schema.
	kvStore := inmem.NewKVStore()
	migrator, err := migration.NewMigrator(log.With(zap.String("service", "KV migrations")), kvStore, all.Migrations[:]...)
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: kv migrator: %w", err)
	}
	if err := migrator.Up(ctx); err != nil {
		return nil, nil, fmt.Errorf("testserver: kv migrations: %w", err)
	}

	// Tenant system: users, passwords, orgs, buckets, user-resource mappings.
	ts := tenant.NewSystem(tenant.NewStore(kvStore), log.With(zap.String("store", "new")), reg, false, metric.WithSuffix("new"))

	// Authorizations (tokens).
	authStore, err := authorization.NewStore(ctx, kvStore, hashedTokens,
		authorization.WithAuthorizationHashVariantName(authorization.DefaultHashVariantName),
		authorization.WithLogger(log.With(zap.String("store", "auth"))))
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: authorization store: %w", err)
	}
	authSvc := authorization.NewService(authStore, ts)

	secretStore, err := secret.NewStore(kvStore)
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: secret store: %w", err)
	}
	secretSvc := secret.NewService(secretStore)

	sessionSvc := session.NewService(session.NewStorage(inmem.NewSessionStore()),
		ts.UserService, ts.UserResourceMappingService, authSvc)

	labelStore, err := label.NewStore(kvStore)
	if err != nil {
		return nil, nil, fmt.Errorf("testserver: label store: %w", err)
	}
	// The launcher uses InfluxDB's internal resource resolver, which knows
	// every resource type; labels on buckets and orgs only need these.
	orgLookup := orgResolver{auths: authSvc, buckets: ts.BucketService, orgs: ts.OrganizationService}
	var labelSvc influxdb.LabelService = label.NewService(labelStore)
	labelSvc = label.NewAuthedLabelService(labelSvc, orgLookup)

	onboardLog := log.With(zap.String("handler", "onboard"))
	onboardSvc := tenant.NewOnboardService(ts, authSvc, tenant.WithOnboardingLogger(onboardLog))
	onboardSvc = tenant.NewAuthedOnboardSvc(onboardSvc)
	onboardSvc = tenant.NewOnboardingMetrics(reg, onboardSvc, metric.WithSuffix("new"))
	onboardSvc = tenant.NewOnboardingLogger(onboardLog, onboardSvc)

	var authedAuthSvc influxdb.AuthorizationService
	{
		authLog := log.With(zap.String("handler", "authorization"))
		authedAuthSvc = authorization.NewAuthedAuthorizationService(authSvc, ts)
		authedAuthSvc = authorization.NewAuthMetrics(reg, authedAuthSvc)
		authedAuthSvc = authorization.NewAuthLogger(authLog, authedAuthSvc)
	}

	resources := []kithttp.ResourceHandler{
		tenant.NewHTTPOnboardHandler(log, onboardSvc),
		authorization.NewHTTPAuthHandler(log, authedAuthSvc, ts),
		ts.NewUserHTTPHandler(log),
		ts.NewMeHTTPHandler(log),
		ts.NewOrgHTTPHandler(log, secretSvc),
		ts.NewBucketHTTPHandler(log, labelSvc),
	}
	api := ihttp.NewBaseChiRouter(kithttp.NewAPI(kithttp.WithLog(log)))
	for _, h := range resources {
		api.Mount(h.Prefix(), h)
	}

	// InfluxDB's authentication middleware, as http.NewPlatformHandler sets
	// it up.
	authn := ihttp.NewAuthenticationHandler(log, kithttp.NewErrorHandler(log.With(zap.String("handler", "error_logger"))))
	authn.Handler = api
	authn.AuthorizationService = authSvc
	authn.SessionService = sessionSvc
	authn.UserService = ts.UserService
	authn.RegisterNoAuthRoute(http.MethodPost, "/api/v2/setup")
	authn.RegisterNoAuthRoute(http.MethodGet, "/api/v2/setup")
	authn.RegisterNoAuthRoute(http.MethodPost, "/api/v2/signin")
	authn.RegisterNoAuthRoute(http.MethodPost, "/api/v2/signout")

	var apiHandler http.Handler = kithttp.SetCORS(authn)
	apiHandler = kithttp.SkipOptions(apiHandler)

	// Root handler: build headers, /metrics (and up to v2.8 /health and
	// /ready, which v2.10 serves from another handler), then the API.
	return ihttp.NewRootHandler("platform",
		ihttp.WithLog(log.With(zap.String("service", "http"))),
		ihttp.WithAPIHandler(apiHandler),
		ihttp.WithMetrics(reg, false),
	), authStore, nil
}

// orgResolver finds the organisation a resource belongs to, for the label
// service's authorization checks.
type orgResolver struct {
	auths   influxdb.AuthorizationService
	buckets influxdb.BucketService
	orgs    influxdb.OrganizationService
}

func (r orgResolver) FindResourceOrganizationID(ctx context.Context, rt influxdb.ResourceType, id platform.ID) (platform.ID, error) {
	switch rt {
	case influxdb.AuthorizationsResourceType:
		a, err := r.auths.FindAuthorizationByID(ctx, id)
		if err != nil {
			return platform.InvalidID(), err
		}
		return a.OrgID, nil
	case influxdb.BucketsResourceType:
		b, err := r.buckets.FindBucketByID(ctx, id)
		if err != nil {
			return platform.InvalidID(), err
		}
		return b.OrgID, nil
	case influxdb.OrgsResourceType:
		o, err := r.orgs.FindOrganizationByID(ctx, id)
		if err != nil {
			return platform.InvalidID(), err
		}
		return o.ID, nil
	}
	return platform.InvalidID(), &ierrors.Error{
		Code: ierrors.EInvalid,
		Msg:  fmt.Sprintf("unsupported resource type %s", rt),
	}
}
