package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The MCP Registry entry (server.json) against the registry's schema,
// vendored in registry/ (see registry/SOURCE.md), and against the bundle
// manifest it describes. RELEASE_SERVER_JSON names the server.json a release
// build wrote (dist/server.json, .ci/package.sh): it is checked as well, with
// its fileSha256 against the bundle next to it.

type serverJSON struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Packages []struct {
		RegistryType    string `json:"registryType"`
		Identifier      string `json:"identifier"`
		Version         string `json:"version"`
		FileSHA256      string `json:"fileSha256"`
		RegistryBaseURL string `json:"registryBaseUrl"`
		EnvVars         []struct {
			Name       string `json:"name"`
			IsRequired bool   `json:"isRequired"`
			IsSecret   bool   `json:"isSecret"`
		} `json:"environmentVariables"`
	} `json:"packages"`
}

func registrySchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("registry/server.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat() // "uri" fields must be URIs
	if err := c.AddResource("server.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("server.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(s *jsonschema.Schema, b []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}

// The validator rejects what the registry's schema rejects, so a pass means
// something.
func TestRegistrySchemaRejectsInvalidEntries(t *testing.T) {
	s := registrySchema(t)
	for name, doc := range map[string]string{
		"no version":                `{"name": "io.github.a/b", "description": "d"}`,
		"name without slash":        `{"name": "influx-token-mcp", "description": "d", "version": "1"}`,
		"description too long":      `{"name": "io.github.a/b", "description": "` + strings.Repeat("x", 101) + `", "version": "1"}`,
		"short sha256":              `{"name": "io.github.a/b", "description": "d", "version": "1", "packages": [{"registryType": "mcpb", "identifier": "x", "transport": {"type": "stdio"}, "fileSha256": "abc"}]}`,
		"package without transport": `{"name": "io.github.a/b", "description": "d", "version": "1", "packages": [{"registryType": "mcpb", "identifier": "x"}]}`,
		"website not a URI":         `{"name": "io.github.a/b", "description": "d", "version": "1", "websiteUrl": "not a uri"}`,
	} {
		if err := validate(s, []byte(doc)); err == nil {
			t.Errorf("%s: the schema accepts %s", name, doc)
		}
	}
}

func TestServerJSON(t *testing.T) {
	checkServerJSON(t, "server.json", false)
}

func TestReleaseServerJSON(t *testing.T) {
	p := os.Getenv("RELEASE_SERVER_JSON")
	if p == "" {
		t.Skip("RELEASE_SERVER_JSON is not set (.ci/package.sh sets it after a snapshot release)")
	}
	checkServerJSON(t, p, true)
}

func checkServerJSON(t *testing.T, file string, release bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(registrySchema(t), b); err != nil {
		t.Fatalf("%s does not match the registry's schema: %v", file, err)
	}
	var sj serverJSON
	if err := json.Unmarshal(b, &sj); err != nil {
		t.Fatal(err)
	}
	if sj.Name != "io.github.tokenaudit/influx-token-mcp" {
		t.Errorf("name %q", sj.Name)
	}

	// The bundle manifest that server.json points to.
	var manifest struct {
		Server struct {
			MCPConfig struct {
				Env map[string]string `json:"env"`
			} `json:"mcp_config"`
		} `json:"server"`
		UserConfig map[string]struct {
			Required  bool `json:"required"`
			Sensitive bool `json:"sensitive"`
		} `json:"user_config"`
	}
	mb, err := os.ReadFile("mcpb/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mb, &manifest); err != nil {
		t.Fatal(err)
	}
	userConfigOf := regexp.MustCompile(`^\$\{user_config\.([a-z_]+)\}$`)

	if len(sj.Packages) == 0 {
		t.Fatal("no packages")
	}
	for _, p := range sj.Packages {
		// The registry accepts only these package types; a Go module is
		// not one of them.
		if !slices.Contains([]string{"npm", "pypi", "oci", "nuget", "mcpb"}, p.RegistryType) {
			t.Errorf("registryType %q: the registry does not accept it", p.RegistryType)
		}
		if p.RegistryType != "mcpb" {
			continue
		}
		// The registry's rules for mcpb packages, beyond the schema.
		u, err := url.Parse(p.Identifier)
		if err != nil || u.Scheme != "https" || u.Host != "github.com" ||
			!regexp.MustCompile(`^/[^/]+/[^/]+/releases/download/[^/]+/[^/]+\.mcpb$`).MatchString(u.Path) ||
			!strings.Contains(strings.ToLower(p.Identifier), "mcp") || p.RegistryBaseURL != "" {
			t.Errorf("identifier %q is not a GitHub release asset URL the registry accepts", p.Identifier)
		}
		if p.Version != sj.Version {
			t.Errorf("package version %q, server version %q", p.Version, sj.Version)
		}
		if release {
			if p.FileSHA256 == "" {
				t.Errorf("%s has no fileSha256: the registry requires it for mcpb packages", p.Identifier)
			}
			bundle := filepath.Join(filepath.Dir(file), path.Base(u.Path))
			data, err := os.ReadFile(bundle)
			if err != nil {
				t.Fatalf("the bundle server.json names: %v", err)
			}
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != p.FileSHA256 {
				t.Errorf("fileSha256 %s is not the SHA-256 of %s (%x)", p.FileSHA256, bundle, sum)
			}
		}

		// The same variables as the manifest sets, required and secret
		// alike, and each one the server reads.
		var names []string
		for _, ev := range p.EnvVars {
			names = append(names, ev.Name)
			if !strings.Contains(usage, ev.Name) {
				t.Errorf("%s: the server does not read it (not in --help)", ev.Name)
			}
			m := userConfigOf.FindStringSubmatch(manifest.Server.MCPConfig.Env[ev.Name])
			if m == nil {
				t.Errorf("%s: the bundle manifest does not set it from user_config", ev.Name)
				continue
			}
			uc := manifest.UserConfig[m[1]]
			if ev.IsRequired != uc.Required || ev.IsSecret != uc.Sensitive {
				t.Errorf("%s: required %v secret %v here, required %v sensitive %v in the manifest",
					ev.Name, ev.IsRequired, ev.IsSecret, uc.Required, uc.Sensitive)
			}
		}
		for name := range manifest.Server.MCPConfig.Env {
			if !slices.Contains(names, name) {
				t.Errorf("the bundle manifest sets %s, server.json does not list it", name)
			}
		}
		for _, want := range []string{"INFLUX_HOST", "INFLUX_TOKEN"} {
			if !slices.Contains(names, want) {
				t.Errorf("no environment variable %s", want)
			}
		}
	}
}
