package influx

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Token fixtures. Every one contains "SECRET", and no error or source
// description may.
const (
	envToken     = "env-token-SECRET"
	fileToken    = "file-token-SECRET"
	profileToken = "profile-token-SECRET"
	otherToken   = "other-token-SECRET"
)

const configsRel = ".influxdbv2/configs"

// cliConfigs is laid out as `influx config create` writes it, commented-out
// cloud examples included.
const cliConfigs = `[local]
  url = "http://localhost:8086"
  token = "profile-token-SECRET"
  org = "acme"
  active = true

[prod]
  url = "https://us-east-1-1.aws.cloud2.influxdata.com"
  token = "other-token-SECRET"
  org = "acme-prod"
  previous = true
# 
# [eu-central]
#   url = "https://eu-central-1-1.aws.cloud2.influxdata.com"
#   token = "XXX"
`

func TestLoadConfig(t *testing.T) {
	defaultFile := "{home}/" + configsRel
	envSrc := ConfigSource{Host: "INFLUX_HOST", Token: "INFLUX_TOKEN"}
	localSrc := ConfigSource{Host: "profile", Token: "profile", Org: "profile", File: defaultFile, Profile: "local", ProfileBy: "active = true"}

	tests := []struct {
		name   string
		env    map[string]string // "{home}" is replaced by a temp dir; HOME is set to it unless noHome
		noHome bool
		files  map[string]string // relative to {home}

		want    Config // Host, Token, Org, OrgID, Timeout, SkipVerify, LogLevel, Source are compared
		wantErr string // substring of the error; "{home}" replaced
		errVar  string // ConfigError.Var; "{home}" replaced
	}{
		// The environment alone.
		{
			name: "env host and token, no configs file",
			env:  map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken},
			want: Config{Host: "http://influx:8086", Token: envToken, Source: envSrc},
		},
		{
			name:  "env host and token: a broken configs file is not read",
			env:   map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken},
			files: map[string]string{configsRel: "[local\nurl = nope"},
			want:  Config{Host: "http://influx:8086", Token: envToken, Source: envSrc},
		},
		{
			name:  "env host and token: the active profile's org is not borrowed",
			env:   map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken},
			files: map[string]string{configsRel: cliConfigs},
			want:  Config{Host: "http://influx:8086", Token: envToken, Source: envSrc},
		},
		{
			name: "every variable",
			env: map[string]string{"INFLUX_HOST": "https://influx.example.com/prefix/", "INFLUX_TOKEN": envToken, "INFLUX_ORG_ID": "0123456789abcdef",
				"INFLUX_TIMEOUT": "5s", "INFLUX_SKIP_VERIFY": "true", "INFLUX_LOG_LEVEL": "DEBUG", "INFLUX_CACHE_TTL": "2m"},
			want: Config{Host: "https://influx.example.com/prefix/", Token: envToken, OrgID: "0123456789abcdef", Timeout: 5 * time.Second, SkipVerify: true, LogLevel: slog.LevelDebug, CacheTTL: 2 * time.Minute,
				Source: ConfigSource{Host: "INFLUX_HOST", Token: "INFLUX_TOKEN", Org: "INFLUX_ORG_ID"}},
		},
		{
			name:  "INFLUX_TOKEN_FILE, trailing newline trimmed",
			env:   map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN_FILE": "{home}/token", "INFLUX_ORG": "acme"},
			files: map[string]string{"token": fileToken + "\n"},
			want: Config{Host: "http://influx:8086", Token: fileToken, Org: "acme",
				Source: ConfigSource{Host: "INFLUX_HOST", Token: "INFLUX_TOKEN_FILE", TokenFile: "{home}/token", Org: "INFLUX_ORG"}},
		},
		{
			name:  "INFLUX_TOKEN_FILE, CRLF trimmed",
			env:   map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN_FILE": "{home}/token"},
			files: map[string]string{"token": fileToken + "\r\n"},
			want:  Config{Host: "http://influx:8086", Token: fileToken, Source: ConfigSource{Host: "INFLUX_HOST", Token: "INFLUX_TOKEN_FILE", TokenFile: "{home}/token"}},
		},
		{
			name:    "INFLUX_TOKEN and INFLUX_TOKEN_FILE both set",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_TOKEN_FILE": "{home}/token"},
			files:   map[string]string{"token": fileToken},
			wantErr: "INFLUX_TOKEN_FILE is set together with INFLUX_TOKEN: set only one of them", errVar: "INFLUX_TOKEN_FILE",
		},
		{
			name:    "INFLUX_TOKEN_FILE missing",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN_FILE": "{home}/nope"},
			wantErr: "INFLUX_TOKEN_FILE cannot be read (no such file or directory)", errVar: "INFLUX_TOKEN_FILE",
		},
		{
			name:    "INFLUX_TOKEN_FILE holds only a newline",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN_FILE": "{home}/token"},
			files:   map[string]string{"token": "\n"},
			wantErr: "INFLUX_TOKEN_FILE names an empty file: write the API token into {home}/token", errVar: "INFLUX_TOKEN_FILE",
		},
		{
			name:    "INFLUX_TOKEN_FILE with two lines",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN_FILE": "{home}/token"},
			files:   map[string]string{"token": fileToken + "\n" + otherToken + "\n"},
			wantErr: "INFLUX_TOKEN_FILE contains a line break", errVar: "INFLUX_TOKEN_FILE",
		},
		{
			name:    "INFLUX_TOKEN with a line break",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken + "\nx"},
			wantErr: "INFLUX_TOKEN contains a line break", errVar: "INFLUX_TOKEN",
		},
		{
			name:    "INFLUX_HOST without scheme",
			env:     map[string]string{"INFLUX_HOST": "localhost:8086", "INFLUX_TOKEN": envToken},
			wantErr: "INFLUX_HOST is not a valid URL", errVar: "INFLUX_HOST",
		},
		{
			name:    "INFLUX_HOST with a password is refused without echoing it",
			env:     map[string]string{"INFLUX_HOST": "http://admin:pw-SECRET@influx:8086", "INFLUX_TOKEN": envToken},
			wantErr: "INFLUX_HOST is not a valid URL (it contains @", errVar: "INFLUX_HOST",
		},
		{
			name:    "INFLUX_ORG and INFLUX_ORG_ID",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_ORG": "acme", "INFLUX_ORG_ID": "0123456789abcdef"},
			wantErr: "INFLUX_ORG_ID is set together with INFLUX_ORG", errVar: "INFLUX_ORG_ID",
		},
		{
			name:    "INFLUX_ORG_ID not an ID",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_ORG_ID": "acme"},
			wantErr: `INFLUX_ORG_ID "acme" is not an InfluxDB ID`, errVar: "INFLUX_ORG_ID",
		},
		{
			name:    "INFLUX_TIMEOUT not a duration",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_TIMEOUT": "30"},
			wantErr: "INFLUX_TIMEOUT is not a duration", errVar: "INFLUX_TIMEOUT",
		},
		{
			name:    "INFLUX_TIMEOUT zero",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_TIMEOUT": "0s"},
			wantErr: "INFLUX_TIMEOUT \"0s\" is not a positive duration", errVar: "INFLUX_TIMEOUT",
		},
		{
			name:    "INFLUX_CACHE_TTL not a duration",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_CACHE_TTL": "30"},
			wantErr: "INFLUX_CACHE_TTL is not a duration", errVar: "INFLUX_CACHE_TTL",
		},
		{
			name:    "INFLUX_CACHE_TTL negative",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_CACHE_TTL": "-1s"},
			wantErr: `INFLUX_CACHE_TTL "-1s" is negative`, errVar: "INFLUX_CACHE_TTL",
		},
		{
			name:    "INFLUX_SKIP_VERIFY not a bool",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_SKIP_VERIFY": "yes"},
			wantErr: "INFLUX_SKIP_VERIFY is not true or false", errVar: "INFLUX_SKIP_VERIFY",
		},
		{
			name:    "INFLUX_LOG_LEVEL unknown",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_LOG_LEVEL": "trace"},
			wantErr: `INFLUX_LOG_LEVEL "trace" is not a log level`, errVar: "INFLUX_LOG_LEVEL",
		},

		// The influx CLI's configs file.
		{
			name:  "nothing in env: the active profile",
			files: map[string]string{configsRel: cliConfigs},
			want:  Config{Host: "http://localhost:8086", Token: profileToken, Org: "acme", Source: localSrc},
		},
		{
			name:  "INFLUX_ACTIVE_CONFIG picks an inactive profile",
			env:   map[string]string{"INFLUX_ACTIVE_CONFIG": "prod"},
			files: map[string]string{configsRel: cliConfigs},
			want: Config{Host: "https://us-east-1-1.aws.cloud2.influxdata.com", Token: otherToken, Org: "acme-prod", ActiveConfig: "prod",
				Source: ConfigSource{Host: "profile", Token: "profile", Org: "profile", File: defaultFile, Profile: "prod", ProfileBy: "INFLUX_ACTIVE_CONFIG"}},
		},
		{
			name:  "env INFLUX_HOST overrides the profile's url only",
			env:   map[string]string{"INFLUX_HOST": "http://tunnel:9999"},
			files: map[string]string{configsRel: cliConfigs},
			want: Config{Host: "http://tunnel:9999", Token: profileToken, Org: "acme",
				Source: ConfigSource{Host: "INFLUX_HOST", Token: "profile", Org: "profile", File: defaultFile, Profile: "local", ProfileBy: "active = true"}},
		},
		{
			name:  "env INFLUX_TOKEN overrides the profile's token only",
			env:   map[string]string{"INFLUX_TOKEN": envToken},
			files: map[string]string{configsRel: cliConfigs},
			want: Config{Host: "http://localhost:8086", Token: envToken, Org: "acme",
				Source: ConfigSource{Host: "profile", Token: "INFLUX_TOKEN", Org: "profile", File: defaultFile, Profile: "local", ProfileBy: "active = true"}},
		},
		{
			name:  "env INFLUX_TOKEN_FILE overrides the profile's token",
			env:   map[string]string{"INFLUX_TOKEN_FILE": "{home}/token"},
			files: map[string]string{configsRel: cliConfigs, "token": fileToken + "\n"},
			want: Config{Host: "http://localhost:8086", Token: fileToken, Org: "acme",
				Source: ConfigSource{Host: "profile", Token: "INFLUX_TOKEN_FILE", TokenFile: "{home}/token", Org: "profile", File: defaultFile, Profile: "local", ProfileBy: "active = true"}},
		},
		{
			name:  "env INFLUX_ORG overrides the profile's org",
			env:   map[string]string{"INFLUX_ORG": "other"},
			files: map[string]string{configsRel: cliConfigs},
			want: Config{Host: "http://localhost:8086", Token: profileToken, Org: "other",
				Source: ConfigSource{Host: "profile", Token: "profile", Org: "INFLUX_ORG", File: defaultFile, Profile: "local", ProfileBy: "active = true"}},
		},
		{
			name:  "env INFLUX_ORG_ID replaces the profile's org, no conflict",
			env:   map[string]string{"INFLUX_ORG_ID": "0123456789abcdef"},
			files: map[string]string{configsRel: cliConfigs},
			want: Config{Host: "http://localhost:8086", Token: profileToken, OrgID: "0123456789abcdef",
				Source: ConfigSource{Host: "profile", Token: "profile", Org: "INFLUX_ORG_ID", File: defaultFile, Profile: "local", ProfileBy: "active = true"}},
		},
		{
			name:  "env host and token with INFLUX_ACTIVE_CONFIG: the file is read, the profile lends its org",
			env:   map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_ACTIVE_CONFIG": "prod"},
			files: map[string]string{configsRel: cliConfigs},
			want: Config{Host: "http://influx:8086", Token: envToken, Org: "acme-prod", ActiveConfig: "prod",
				Source: ConfigSource{Host: "INFLUX_HOST", Token: "INFLUX_TOKEN", Org: "profile", File: defaultFile, Profile: "prod", ProfileBy: "INFLUX_ACTIVE_CONFIG"}},
		},
		{
			name:    "env host and token with INFLUX_CONFIGS_PATH: a broken file is an error",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": envToken, "INFLUX_CONFIGS_PATH": "{home}/custom"},
			files:   map[string]string{"custom": "[local]\nactive = yes\n"},
			wantErr: "{home}/custom is not valid TOML (line 2, column 10", errVar: "{home}/custom",
		},
		{
			name:  "INFLUX_CONFIGS_PATH absolute",
			env:   map[string]string{"INFLUX_CONFIGS_PATH": "{home}/elsewhere/configs"},
			files: map[string]string{"elsewhere/configs": cliConfigs},
			want: Config{Host: "http://localhost:8086", Token: profileToken, Org: "acme", ConfigsPath: "{home}/elsewhere/configs",
				Source: ConfigSource{Host: "profile", Token: "profile", Org: "profile", File: "{home}/elsewhere/configs", Profile: "local", ProfileBy: "active = true"}},
		},
		{
			name:  "INFLUX_CONFIGS_PATH with a leading ~",
			env:   map[string]string{"INFLUX_CONFIGS_PATH": "~/elsewhere/configs"},
			files: map[string]string{"elsewhere/configs": cliConfigs},
			want: Config{Host: "http://localhost:8086", Token: profileToken, Org: "acme", ConfigsPath: "~/elsewhere/configs",
				Source: ConfigSource{Host: "profile", Token: "profile", Org: "profile", File: "{home}/elsewhere/configs", Profile: "local", ProfileBy: "active = true"}},
		},
		{
			name:    "INFLUX_CONFIGS_PATH with ~ but no HOME",
			env:     map[string]string{"INFLUX_CONFIGS_PATH": "~/configs"},
			noHome:  true,
			wantErr: "INFLUX_CONFIGS_PATH starts with ~ but HOME is not set", errVar: "INFLUX_CONFIGS_PATH",
		},
		{
			name:    "INFLUX_CONFIGS_PATH relative",
			env:     map[string]string{"INFLUX_CONFIGS_PATH": ".influxdbv2/configs"},
			files:   map[string]string{configsRel: cliConfigs},
			wantErr: `INFLUX_CONFIGS_PATH ".influxdbv2/configs" is not an absolute path`, errVar: "INFLUX_CONFIGS_PATH",
		},
		{
			name:    "INFLUX_CONFIGS_PATH names a missing file",
			env:     map[string]string{"INFLUX_CONFIGS_PATH": "{home}/nope"},
			wantErr: "INFLUX_CONFIGS_PATH names {home}/nope, which does not exist", errVar: "INFLUX_CONFIGS_PATH",
		},
		{
			name:    "INFLUX_CONFIGS_PATH names a directory",
			env:     map[string]string{"INFLUX_CONFIGS_PATH": "{home}/.influxdbv2"},
			files:   map[string]string{configsRel: cliConfigs},
			wantErr: "{home}/.influxdbv2 cannot be read (is a directory)", errVar: "{home}/.influxdbv2",
		},
		{
			name:    "nothing in env, no configs file",
			wantErr: "INFLUX_HOST and INFLUX_TOKEN are not set and the influx CLI configs file {home}/" + configsRel + " does not exist: set INFLUX_HOST and INFLUX_TOKEN (or INFLUX_TOKEN_FILE), or create a profile with `influx config create",
			errVar:  "INFLUX_HOST and INFLUX_TOKEN",
		},
		{
			name:    "env host only, no configs file",
			env:     map[string]string{"INFLUX_HOST": "http://influx:8086"},
			wantErr: "INFLUX_TOKEN is not set and the influx CLI configs file {home}/" + configsRel + " does not exist", errVar: "INFLUX_TOKEN",
		},
		{
			name:    "env token only, no configs file",
			env:     map[string]string{"INFLUX_TOKEN": envToken},
			wantErr: "INFLUX_HOST is not set and the influx CLI configs file", errVar: "INFLUX_HOST",
		},
		{
			name:    "INFLUX_ACTIVE_CONFIG, no configs file",
			env:     map[string]string{"INFLUX_ACTIVE_CONFIG": "local"},
			wantErr: "INFLUX_ACTIVE_CONFIG is set but the influx CLI configs file {home}/" + configsRel + " does not exist", errVar: "INFLUX_ACTIVE_CONFIG",
		},
		{
			name:    "no HOME, nothing in env",
			noHome:  true,
			wantErr: "INFLUX_HOST and INFLUX_TOKEN are not set and neither is HOME, so the influx CLI configs file cannot be found: set INFLUX_HOST and INFLUX_TOKEN (or INFLUX_TOKEN_FILE), or set INFLUX_CONFIGS_PATH", errVar: "INFLUX_HOST and INFLUX_TOKEN",
		},
		{
			name:    "no HOME, INFLUX_ACTIVE_CONFIG",
			noHome:  true,
			env:     map[string]string{"INFLUX_ACTIVE_CONFIG": "local"},
			wantErr: "INFLUX_ACTIVE_CONFIG is set but HOME is not", errVar: "INFLUX_ACTIVE_CONFIG",
		},
		{
			name:   "no HOME, USERPROFILE (Windows)",
			noHome: true,
			env:    map[string]string{"USERPROFILE": "{home}"},
			files:  map[string]string{configsRel: cliConfigs},
			want:   Config{Host: "http://localhost:8086", Token: profileToken, Org: "acme", Source: localSrc},
		},
		{
			name:  "profile without org, unknown keys ignored",
			files: map[string]string{configsRel: "[x]\nurl = \"http://h:1\"\ntoken = \"" + profileToken + "\"\nactive = true\nprevious = false\nfuture = [1, 2]\n[x.sub]\nk = 1\n"},
			want: Config{Host: "http://h:1", Token: profileToken,
				Source: ConfigSource{Host: "profile", Token: "profile", File: defaultFile, Profile: "x", ProfileBy: "active = true"}},
		},
		{
			name:    "INFLUX_ACTIVE_CONFIG names no profile",
			env:     map[string]string{"INFLUX_ACTIVE_CONFIG": "staging"},
			files:   map[string]string{configsRel: cliConfigs},
			wantErr: `INFLUX_ACTIVE_CONFIG names profile "staging", which is not in {home}/` + configsRel + ` (it has "local", "prod"): set it to one of those names`, errVar: "INFLUX_ACTIVE_CONFIG",
		},
		{
			name:    "no active profile",
			files:   map[string]string{configsRel: strings.Replace(cliConfigs, "active = true", "active = false", 1)},
			wantErr: `{home}/` + configsRel + ` has no active profile (it has "local", "prod"): set INFLUX_ACTIVE_CONFIG to one of them, or make one active with ` + "`influx config NAME`", errVar: "{home}/" + configsRel,
		},
		{
			name:    "two active profiles",
			files:   map[string]string{configsRel: strings.Replace(cliConfigs, "previous = true", "active = true", 1)},
			wantErr: `{home}/` + configsRel + ` marks more than one profile active ("local", "prod")`, errVar: "{home}/" + configsRel,
		},
		{
			name:    "empty configs file",
			files:   map[string]string{configsRel: "# nothing\n"},
			wantErr: "{home}/" + configsRel + " has no profiles: create one with `influx config create", errVar: "{home}/" + configsRel,
		},
		{
			name:    "unquoted token: the error gives the place, never the value",
			files:   map[string]string{configsRel: "[local]\nurl = \"http://localhost:8086\"\ntoken = " + profileToken + "\nactive = true\n"},
			wantErr: `{home}/` + configsRel + ` is not valid TOML (line 3, column 9, after key "local.token"): correct it`, errVar: "{home}/" + configsRel,
		},
		{
			name:    "unterminated token string",
			files:   map[string]string{configsRel: "[local]\ntoken = \"" + profileToken + "\nactive = true\n"},
			wantErr: `is not valid TOML (line 2`, errVar: "{home}/" + configsRel,
		},
		{
			name:    "top-level key outside any profile",
			files:   map[string]string{configsRel: "url = \"http://localhost:8086\"\n" + cliConfigs},
			wantErr: `has a top-level key "url" that is not a [profile] table`, errVar: "{home}/" + configsRel,
		},
		{
			name:    "url not a string",
			files:   map[string]string{configsRel: "[local]\nurl = 8086\ntoken = \"" + profileToken + "\"\nactive = true\n"},
			wantErr: `profile "local" in {home}/` + configsRel + ` has a url that is not a string`, errVar: `profile "local" in {home}/` + configsRel,
		},
		{
			name:    "active quoted",
			files:   map[string]string{configsRel: "[local]\nurl = \"http://h:1\"\ntoken = \"" + profileToken + "\"\nactive = \"true\"\n"},
			wantErr: `profile "local" in {home}/` + configsRel + ` has an active that is not true or false`, errVar: `profile "local" in {home}/` + configsRel,
		},
		{
			name:    "profile without url",
			files:   map[string]string{configsRel: "[local]\ntoken = \"" + profileToken + "\"\nactive = true\n"},
			wantErr: `profile "local" in {home}/` + configsRel + " has no url: run `influx config update --config-name local --host-url URL`, or set INFLUX_HOST", errVar: `profile "local" in {home}/` + configsRel,
		},
		{
			name:  "profile without url, env INFLUX_HOST fills it",
			env:   map[string]string{"INFLUX_HOST": "http://influx:8086"},
			files: map[string]string{configsRel: "[local]\ntoken = \"" + profileToken + "\"\nactive = true\n"},
			want: Config{Host: "http://influx:8086", Token: profileToken,
				Source: ConfigSource{Host: "INFLUX_HOST", Token: "profile", File: defaultFile, Profile: "local", ProfileBy: "active = true"}},
		},
		{
			name:    "profile without token",
			files:   map[string]string{configsRel: "[local]\nurl = \"http://h:1\"\ntoken = \"\"\nactive = true\n"},
			wantErr: `profile "local" in {home}/` + configsRel + " has no token: run `influx config update --config-name local --token TOKEN`, or set INFLUX_TOKEN_FILE (or INFLUX_TOKEN)", errVar: `profile "local" in {home}/` + configsRel,
		},
		{
			name:    "profile from a username/password login",
			files:   map[string]string{configsRel: "[local]\nurl = \"http://h:1\"\ncookie = \"session-SECRET\"\nactive = true\n"},
			wantErr: "has no token (it holds a session cookie from a username/password login", errVar: `profile "local" in {home}/` + configsRel,
		},
		{
			name:    "profile url invalid",
			files:   map[string]string{configsRel: "[local]\nurl = \"localhost:8086\"\ntoken = \"" + profileToken + "\"\nactive = true\n"},
			wantErr: `profile "local" in {home}/` + configsRel + ` has a url that is not valid`, errVar: `profile "local" in {home}/` + configsRel,
		},
		{
			name:    "profile token with a line break",
			files:   map[string]string{configsRel: "[local]\nurl = \"http://h:1\"\ntoken = \"\"\"" + profileToken + "\nx\"\"\"\nactive = true\n"},
			wantErr: `profile "local" in {home}/` + configsRel + ` token contains a line break`, errVar: `profile "local" in {home}/` + configsRel + ` token`,
		},
		{
			name:    "configs file over 1 MiB",
			files:   map[string]string{configsRel: "# " + strings.Repeat("x", maxConfigsFile) + "\n"},
			wantErr: "is larger than 1 MiB", errVar: "{home}/" + configsRel,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			sub := func(s string) string { return strings.ReplaceAll(s, "{home}", home) }
			for rel, content := range tt.files {
				p := filepath.Join(home, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			environ := map[string]string{}
			if !tt.noHome {
				environ["HOME"] = home
			}
			for k, v := range tt.env {
				environ[k] = sub(v)
			}

			cfg, err := LoadConfig(environ)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("LoadConfig succeeded with source %q; want error containing %q", cfg.Source, sub(tt.wantErr))
				}
				if !strings.Contains(err.Error(), sub(tt.wantErr)) {
					t.Errorf("error\n  %s\nwant it to contain\n  %s", err, sub(tt.wantErr))
				}
				var ce *ConfigError
				if !errors.As(err, &ce) {
					t.Fatalf("error %T is not a *ConfigError", err)
				}
				if ce.Var != sub(tt.errVar) || ce.Problem == "" || ce.Fix == "" {
					t.Errorf("ConfigError{Var: %q, Problem: %q, Fix: %q}; want Var %q and a problem and a fix", ce.Var, ce.Problem, ce.Fix, sub(tt.errVar))
				}
				if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "\n") {
					t.Errorf("error leaks a secret or spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			want := tt.want
			if want.Timeout == 0 {
				want.Timeout = 30 * time.Second
			}
			// want.LogLevel's zero value is slog.LevelInfo, the default.
			if want.CacheTTL == 0 {
				want.CacheTTL = 30 * time.Second
			}
			want.ConfigsPath = sub(want.ConfigsPath)
			want.Source.File = sub(want.Source.File)
			want.Source.TokenFile = sub(want.Source.TokenFile)
			want.TokenFile = cfg.TokenFile // compared through Source.TokenFile
			if cfg != want {
				t.Errorf("LoadConfig =\n  %+v\nwant\n  %+v", cfg, want)
			}
			if s := fmt.Sprintf("%+v", cfg.Source); strings.Contains(s, "SECRET") {
				t.Errorf("source %q leaks the token", s)
			}
		})
	}
}

// The start-up log line, as main writes it, names the file and profile and
// carries no token.
func TestConfigSourceLog(t *testing.T) {
	home := t.TempDir()
	p := filepath.Join(home, configsRel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(cliConfigs), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(map[string]string{"HOME": home, "INFLUX_ORG": "other"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("starting", "config", cfg.Source)
	line := buf.String()
	for _, want := range []string{"config.host=profile", "config.token=profile", "config.org=INFLUX_ORG", "config.file=" + p, "config.profile=local", `config.profile_by="active = true"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if strings.Contains(line, "SECRET") || strings.Contains(line, "token_file") {
		t.Errorf("log line %q leaks the token or logs an empty attribute", line)
	}
}

// INFLUX_CACHE_TTL=0 turns the sharing of token lists off.
func TestLoadConfigCacheTTLZero(t *testing.T) {
	cfg, err := LoadConfig(map[string]string{"INFLUX_HOST": "http://influx:8086", "INFLUX_TOKEN": "t", "INFLUX_CACHE_TTL": "0"})
	if err != nil || cfg.CacheTTL != 0 {
		t.Errorf("CacheTTL %v, err %v; want 0", cfg.CacheTTL, err)
	}
}
