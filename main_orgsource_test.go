package main

import (
	"testing"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// TestOrgSource: answers narrowed by a default org name where it was set.
func TestOrgSource(t *testing.T) {
	for _, tc := range []struct {
		src  influx.ConfigSource
		want string
	}{
		{influx.ConfigSource{Org: "INFLUX_ORG"}, "INFLUX_ORG"},
		{influx.ConfigSource{Org: "INFLUX_ORG_ID"}, "INFLUX_ORG_ID"},
		{influx.ConfigSource{Org: "profile", Profile: "prod", File: "/home/me/.influxdbv2/configs"}, `the influx CLI profile "prod"`},
		{influx.ConfigSource{}, ""},
	} {
		if got := orgSource(tc.src); got != tc.want {
			t.Errorf("orgSource(%+v) = %q, want %q", tc.src, got, tc.want)
		}
	}
}
