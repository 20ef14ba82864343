package tools

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tokenaudit/influx-token-mcp/influx"
	"github.com/tokenaudit/influx-token-mcp/internal/fakeinflux"
)

func TestGetToken(t *testing.T) {
	f := baseWorld().start(t)
	h := newHarness(t, f, Settings{})

	t.Run("deleted bucket", func(t *testing.T) {
		res := h.call(t, "get_token", map[string]any{"authID": tokDeleted})
		d := structured[TokenDetail](t, res)
		want := TokenDetail{
			Token: Token{
				ID: tokDeleted, Description: "reads a deleted bucket", Status: "active",
				User: "alice", UserID: userAlice, Org: "acme", OrgID: orgAcme,
				CreatedAt: "2025-08-15T09:30:00.123456789Z", UpdatedAt: "2025-08-15T09:30:00.123456789Z",
				// InfluxDB leaves out the org's name too for an id it cannot find.
				Permissions: []string{"read:orgs/" + orgAcme + "/buckets/" + bucketDeleted},
				Risks:       []string{riskDangling},
				RiskReasons: []RiskReason{{Risk: riskDangling, Permissions: []string{"read:orgs/" + orgAcme + "/buckets/" + bucketDeleted}}},
			},
			PermissionDetails: []PermissionDetail{{
				Permission: "read:orgs/" + orgAcme + "/buckets/" + bucketDeleted, Action: "read",
				Resource: influx.Resource{Type: "buckets", ID: bucketDeleted, OrgID: orgAcme},
			}},
			Notes: []string{},
		}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("\n got %+v\nwant %+v", d, want)
		}
		msg := text(t, res)
		for _, w := range []string{tokDeleted, "alice@acme", "user alice (" + userAlice + "), org acme (" + orgAcme + ")", "type=buckets id=" + bucketDeleted, "(dangling: no bucket has this id any more)", "[dangling]"} {
			if !strings.Contains(msg, w) {
				t.Errorf("text lacks %q:\n%s", w, msg)
			}
		}
	})

	t.Run("every permission in order", func(t *testing.T) {
		d := structured[TokenDetail](t, h.call(t, "get_token", map[string]any{"authID": tokAllAccess}))
		if len(d.Permissions) != 2*len(someTypes) || len(d.PermissionDetails) != len(d.Permissions) {
			t.Fatalf("%d permissions, %d details", len(d.Permissions), len(d.PermissionDetails))
		}
		for i, p := range d.PermissionDetails {
			typ, action := someTypes[i/2], []string{"read", "write"}[i%2]
			wantRes := influx.Resource{Type: typ, OrgID: orgAcme, Org: "acme"}
			if p.Action != action || p.Resource != wantRes || p.Permission != d.Permissions[i] || p.Permission != action+":orgs/acme/"+typ {
				t.Errorf("[%d] %+v", i, p)
			}
		}
		// Write on acme's users names no user: InfluxDB would not let it
		// create a token.
		if !reflect.DeepEqual(d.Risks, []string{}) {
			t.Errorf("risks %v", d.Risks)
		}
	})

	t.Run("instance-wide and inactive", func(t *testing.T) {
		d := structured[TokenDetail](t, h.call(t, "get_token", map[string]any{"authID": tokOperator}))
		if d.Permissions[0] != "read:/authorizations" || d.PermissionDetails[0].Resource != (influx.Resource{Type: "authorizations"}) {
			t.Errorf("first permission %q %+v", d.Permissions[0], d.PermissionDetails[0])
		}
		if !reflect.DeepEqual(d.Risks, []string{riskInstanceWide, riskCanCreateTokens}) {
			t.Errorf("risks %v", d.Risks)
		}
		d = structured[TokenDetail](t, h.call(t, "get_token", map[string]any{"authID": tokInactive}))
		if d.Status != "inactive" || !reflect.DeepEqual(d.Risks, []string{riskInactive}) || d.Permissions[0] != "read:orgs/globex/buckets/sales" {
			t.Errorf("%+v", d)
		}
	})

	t.Run("upper-case ID", func(t *testing.T) {
		d := structured[TokenDetail](t, h.call(t, "get_token", map[string]any{"authID": strings.ToUpper(tokMinter)}))
		if d.ID != tokMinter {
			t.Errorf("id %s", d.ID)
		}
		if got := f.RequestsTo("/api/v2/authorizations/0A00000000000009"); len(got) != 1 {
			t.Errorf("%d requests for the upper-case ID", len(got))
		}
	})
}

func TestGetTokenBadIDsMakeNoRequest(t *testing.T) {
	f := baseWorld().start(t)
	h := newHarness(t, f, Settings{})
	for _, tc := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"path traversal", map[string]any{"authID": "../orgs"}, []string{`authID "../orgs"`, "16 hexadecimal digits", "list_tokens"}},
		{"traversal of 16 bytes", map[string]any{"authID": "../orgs/0a000000"}, []string{"authID", "16 hexadecimal digits"}},
		{"not hex", map[string]any{"authID": "xyz"}, []string{`authID "xyz"`, "16 hexadecimal digits"}},
		{"15 digits", map[string]any{"authID": "0a0000000000001"}, []string{`authID "0a0000000000001"`}},
		{"17 digits", map[string]any{"authID": "0a000000000000011"}, []string{`authID "0a000000000000011"`}},
		{"empty", map[string]any{"authID": ""}, []string{`authID ""`, "16 hexadecimal digits"}},
		{"all zeros", map[string]any{"authID": "0000000000000000"}, []string{`authID "0000000000000000"`}},
		{"missing", map[string]any{}, []string{"authID is required"}},
		{"unknown argument", map[string]any{"id": tokMinter}, []string{`unknown argument "id"`, "authID"}},
		{"mistyped", map[string]any{"authID": 7}, []string{"authID must be a string, not integer"}},
		{"null", map[string]any{"authID": nil}, []string{"authID must be a string, not null"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.Requests.Load()
			wantToolError(t, h.call(t, "get_token", tc.args), tc.want...)
			if n := f.Requests.Load() - before; n != 0 {
				t.Errorf("%d requests reached InfluxDB", n)
			}
		})
	}
}

func TestGetTokenUpstreamErrors(t *testing.T) {
	f := baseWorld().start(t)
	h := newHarness(t, f, Settings{})
	const path = "/api/v2/authorizations/" + tokMinter
	for _, tc := range []struct {
		name      string
		intercept func(w http.ResponseWriter, r *http.Request) bool
		authID    string
		want      []string
	}{
		{"404 from InfluxDB", nil, "0a0000000000ffff",
			[]string{"404 Not Found (not found): authorization not found", "No token has authID 0a0000000000ffff", "list_tokens"}},
		{"404 from a proxy", intercepting(path, 404, "text/html", "<h1>Not Found</h1>"), tokMinter,
			[]string{"non-JSON body (text/html)", "INFLUX_HOST"}},
		{"404 for a route InfluxDB does not have (wrong path prefix)", intercepting(path, 404, "application/json", `{"code":"not found","message":"path not found"}`), tokMinter,
			[]string{"path not found", "API path was not found", "INFLUX_HOST"}},
		{"401 on one token", intercepting(path, 401, "application/json", "{\n\t\"code\": \"unauthorized\",\n\t\"message\": \"read:orgs/"+orgAcme+"/authorizations/"+tokMinter+" is unauthorized\"\n}"), tokMinter,
			[]string{"401 Unauthorized (unauthorized): read:orgs/" + orgAcme + "/authorizations/" + tokMinter + " is unauthorized", "authID " + tokMinter}},
		{"400", intercepting(path, 400, "application/json", `{"code":"invalid","message":"invalid ID"}`), tokMinter,
			[]string{"400 Bad Request (invalid): invalid ID"}},
		{"500 HTML", intercepting(path, 500, "text/html", "<html>oops</html>"), tokMinter,
			[]string{"500 Internal Server Error", "non-JSON", "try again later"}},
		{"200 without id", intercepting(path, 200, "application/json", `{"status":"active","token":"`+fakeinflux.Canary(tokMinter)+`"}`), tokMinter,
			[]string{"unusable answer", "INFLUX_HOST"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.Intercept(tc.intercept)
			defer f.Intercept(nil)
			msg := wantToolError(t, h.call(t, "get_token", map[string]any{"authID": tc.authID}), tc.want...)
			if strings.Contains(msg, "<") {
				t.Errorf("the error echoes markup: %s", msg)
			}
		})
	}

	t.Run("unreachable host", func(t *testing.T) {
		host := fakeinflux.ClosedPortURL(t)
		h := newHarnessAt(t, host, nil, Settings{})
		wantToolError(t, h.call(t, "get_token", map[string]any{"authID": tokMinter}), "refused", strings.TrimPrefix(host, "http://"))
	})
}
