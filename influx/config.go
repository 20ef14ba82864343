package influx

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/caarlos0/env/v11"
)

// Config is the server's configuration. Variable names follow the influx CLI.
type Config struct {
	Host         string        `env:"INFLUX_HOST"`
	Token        string        `env:"INFLUX_TOKEN"`
	TokenFile    string        `env:"INFLUX_TOKEN_FILE"`
	Org          string        `env:"INFLUX_ORG"`
	OrgID        string        `env:"INFLUX_ORG_ID"`
	Timeout      time.Duration `env:"INFLUX_TIMEOUT" envDefault:"30s"`
	CacheTTL     time.Duration `env:"INFLUX_CACHE_TTL" envDefault:"30s"`
	SkipVerify   bool          `env:"INFLUX_SKIP_VERIFY"`
	LogLevel     slog.Level    `env:"INFLUX_LOG_LEVEL" envDefault:"info"`
	ConfigsPath  string        `env:"INFLUX_CONFIGS_PATH"`
	ActiveConfig string        `env:"INFLUX_ACTIVE_CONFIG"`

	// Source says where Host, Token and Org came from, for the start-up
	// log. It never holds the token.
	Source ConfigSource `env:"-"`
}

// ConfigSource records where the configuration came from: which environment
// variable or influx CLI profile set the host, the token and the default org.
// It holds names and paths only, never a token.
type ConfigSource struct {
	Host      string // "INFLUX_HOST" or "profile"
	Token     string // "INFLUX_TOKEN", "INFLUX_TOKEN_FILE" or "profile"
	TokenFile string // the token file's path when Token is "INFLUX_TOKEN_FILE"
	Org       string // "INFLUX_ORG", "INFLUX_ORG_ID", "profile", or "" for none
	File      string // the influx CLI configs file that was read, or ""
	Profile   string // the profile used from File
	ProfileBy string // how Profile was chosen: "INFLUX_ACTIVE_CONFIG" or "active = true"
}

// LogValue logs the source as a group: host, token, token_file, org, file,
// profile, profile_by (empty ones left out).
func (s ConfigSource) LogValue() slog.Value {
	var attrs []slog.Attr
	for _, a := range []struct{ k, v string }{
		{"host", s.Host}, {"token", s.Token}, {"token_file", s.TokenFile}, {"org", s.Org},
		{"file", s.File}, {"profile", s.Profile}, {"profile_by", s.ProfileBy},
	} {
		if a.v != "" {
			attrs = append(attrs, slog.String(a.k, a.v))
		}
	}
	return slog.GroupValue(attrs...)
}

// ConfigError names the variable that is wrong and how to fix it, in one line.
type ConfigError struct {
	Var     string
	Problem string
	Fix     string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s %s: %s", e.Var, e.Problem, e.Fix) }

const createProfileHint = "`influx config create --config-name NAME --host-url URL --org ORG --token TOKEN --active`"

// maxConfigsFile bounds the configs file read; the influx CLI writes a few
// hundred bytes per profile.
const maxConfigsFile = 1 << 20

// LoadConfig reads the configuration from environ (os.Environ as a map) and
// checks it. The influx CLI's configs file and the token file, if any, are
// read here.
//
// Precedence, field by field, as in the influx CLI:
//   - host: INFLUX_HOST, else the profile's url;
//   - token: INFLUX_TOKEN or INFLUX_TOKEN_FILE (not both), else the profile's token;
//   - default org: INFLUX_ORG or INFLUX_ORG_ID (not both), else the profile's org;
//   - profile: the one INFLUX_ACTIVE_CONFIG names, else the one with active = true;
//   - configs file: INFLUX_CONFIGS_PATH (a leading ~ is $HOME), else
//     $HOME/.influxdbv2/configs ($USERPROFILE when HOME is unset).
//
// The configs file is read only when the environment lacks the host or a
// token, or when INFLUX_CONFIGS_PATH or INFLUX_ACTIVE_CONFIG is set; a file
// that is read must be valid and must yield exactly one profile. So with
// INFLUX_HOST and a token in the environment, and neither of those two set,
// the configs file is not opened at all and does not lend its org either.
func LoadConfig(environ map[string]string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: environ})
	if err != nil {
		return cfg, configParseError(err, environ)
	}
	if cfg.Token != "" && cfg.TokenFile != "" {
		return cfg, &ConfigError{"INFLUX_TOKEN_FILE", "is set together with INFLUX_TOKEN", "set only one of them"}
	}
	if cfg.Org != "" && cfg.OrgID != "" {
		return cfg, &ConfigError{"INFLUX_ORG_ID", "is set together with INFLUX_ORG", "set only one of them, as with the influx CLI"}
	}
	if err := cfg.applyProfile(environ); err != nil {
		return cfg, err
	}
	if cfg.Host == "" {
		// applyProfile sets both host and token or fails; these are guards.
		return cfg, &ConfigError{"INFLUX_HOST", "is not set", "set it to your InfluxDB URL, e.g. http://localhost:8086 or https://us-east-1-1.aws.cloud2.influxdata.com"}
	}
	if _, err := ParseHost(cfg.Host); err != nil {
		if cfg.Source.Host == "profile" {
			return cfg, &ConfigError{cfg.profileRef(), "has a url that is not valid (" + hostProblem(cfg.Host, err) + ")",
				fmt.Sprintf("run `influx config update --config-name %s --host-url http://localhost:8086` with your URL, or set INFLUX_HOST", cfg.Source.Profile)}
		}
		return cfg, &ConfigError{"INFLUX_HOST", "is not a valid URL (" + hostProblem(cfg.Host, err) + ")", "set it to a base URL such as http://localhost:8086"}
	}
	if cfg.TokenFile != "" {
		raw, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return cfg, &ConfigError{"INFLUX_TOKEN_FILE", "cannot be read (" + describeFileError(err) + ")", "point it at a readable file that holds the token"}
		}
		cfg.Token = strings.TrimRight(string(raw), "\r\n")
		if strings.TrimSpace(cfg.Token) == "" {
			return cfg, &ConfigError{"INFLUX_TOKEN_FILE", "names an empty file", "write the API token into " + cfg.TokenFile}
		}
	}
	if cfg.Token == "" {
		return cfg, &ConfigError{"INFLUX_TOKEN", "is not set", "set it to an API token with read:authorizations (and read:users), or set INFLUX_TOKEN_FILE to a file that holds one"}
	}
	if strings.ContainsAny(cfg.Token, "\r\n") {
		v := cfg.Source.Token
		if v == "profile" {
			v = cfg.profileRef() + " token"
		}
		return cfg, &ConfigError{v, "contains a line break", "set it to the token alone"}
	}
	if cfg.OrgID != "" && ValidateID(cfg.OrgID) != nil {
		return cfg, &ConfigError{"INFLUX_ORG_ID", fmt.Sprintf("%q is not an InfluxDB ID", cfg.OrgID), "set it to the org's 16-hex-digit ID, or use INFLUX_ORG with its name"}
	}
	if cfg.Timeout <= 0 {
		return cfg, &ConfigError{"INFLUX_TIMEOUT", fmt.Sprintf("%q is not a positive duration", cfg.Timeout), "set it to e.g. 30s or 1m"}
	}
	if cfg.CacheTTL < 0 {
		return cfg, &ConfigError{"INFLUX_CACHE_TTL", fmt.Sprintf("%q is negative", cfg.CacheTTL), "set it to e.g. 30s, or 0 to ask InfluxDB on every call"}
	}
	return cfg, nil
}

// applyProfile records which fields the environment set and fills the rest
// from the influx CLI's active profile, reading the configs file only when
// LoadConfig's doc says so.
func (cfg *Config) applyProfile(environ map[string]string) error {
	envHost := cfg.Host != ""
	envToken := cfg.Token != "" || cfg.TokenFile != ""
	if envHost {
		cfg.Source.Host = "INFLUX_HOST"
	}
	switch {
	case cfg.Token != "":
		cfg.Source.Token = "INFLUX_TOKEN"
	case cfg.TokenFile != "":
		cfg.Source.Token, cfg.Source.TokenFile = "INFLUX_TOKEN_FILE", cfg.TokenFile
	}
	switch {
	case cfg.Org != "":
		cfg.Source.Org = "INFLUX_ORG"
	case cfg.OrgID != "":
		cfg.Source.Org = "INFLUX_ORG_ID"
	}
	if envHost && envToken && cfg.ConfigsPath == "" && cfg.ActiveConfig == "" {
		return nil
	}

	path, err := cfg.configsFile(environ, envHost, envToken)
	if err != nil {
		return err
	}
	profiles, err := readProfiles(path)
	if errors.Is(err, os.ErrNotExist) {
		switch {
		case cfg.ConfigsPath != "":
			return &ConfigError{"INFLUX_CONFIGS_PATH", fmt.Sprintf("names %s, which does not exist", path),
				"point it at the influx CLI's configs file (influx config list shows the profiles it holds), or create a profile with " + createProfileHint}
		case cfg.ActiveConfig != "":
			return &ConfigError{"INFLUX_ACTIVE_CONFIG", fmt.Sprintf("is set but the influx CLI configs file %s does not exist", path),
				"create the profile with " + createProfileHint + ", or set INFLUX_CONFIGS_PATH to the configs file"}
		}
		v, are := missingVars(envHost, envToken)
		return &ConfigError{v, are + " not set and the influx CLI configs file " + path + " does not exist",
			"set INFLUX_HOST and INFLUX_TOKEN (or INFLUX_TOKEN_FILE), or create a profile with " + createProfileHint}
	}
	if err != nil {
		return err
	}
	name, by, err := pickProfile(path, profiles, cfg.ActiveConfig)
	if err != nil {
		return err
	}
	p := profiles[name]
	cfg.Source.File, cfg.Source.Profile, cfg.Source.ProfileBy = path, name, by

	if !envHost {
		if strings.TrimSpace(p.URL) == "" {
			return &ConfigError{cfg.profileRef(), "has no url",
				fmt.Sprintf("run `influx config update --config-name %s --host-url URL`, or set INFLUX_HOST", name)}
		}
		cfg.Host, cfg.Source.Host = p.URL, "profile"
	}
	if !envToken {
		if strings.TrimSpace(p.Token) == "" {
			problem := "has no token"
			if p.Cookie != "" {
				problem += " (it holds a session cookie from a username/password login, which this server cannot use)"
			}
			return &ConfigError{cfg.profileRef(), problem,
				fmt.Sprintf("run `influx config update --config-name %s --token TOKEN`, or set INFLUX_TOKEN_FILE (or INFLUX_TOKEN)", name)}
		}
		cfg.Token, cfg.Source.Token = p.Token, "profile"
	}
	if cfg.Org == "" && cfg.OrgID == "" && p.Org != "" {
		cfg.Org, cfg.Source.Org = p.Org, "profile"
	}
	return nil
}

func (cfg *Config) profileRef() string {
	return fmt.Sprintf("profile %q in %s", cfg.Source.Profile, cfg.Source.File)
}

// configsFile is the configs file's path: INFLUX_CONFIGS_PATH with a leading
// ~ expanded, else the influx CLI's default under the home directory.
func (cfg *Config) configsFile(environ map[string]string, envHost, envToken bool) (string, error) {
	home := environ["HOME"]
	if home == "" {
		home = environ["USERPROFILE"] // Windows, where the influx CLI uses the profile directory
	}
	const absFix = "set INFLUX_CONFIGS_PATH to the configs file's absolute path, e.g. /Users/you/.influxdbv2/configs"
	p := cfg.ConfigsPath
	if p == "" {
		if home == "" {
			if cfg.ActiveConfig != "" {
				return "", &ConfigError{"INFLUX_ACTIVE_CONFIG", "is set but HOME is not, so the influx CLI configs file cannot be found", absFix}
			}
			v, are := missingVars(envHost, envToken)
			return "", &ConfigError{v, are + " not set and neither is HOME, so the influx CLI configs file cannot be found",
				"set INFLUX_HOST and INFLUX_TOKEN (or INFLUX_TOKEN_FILE), or " + absFix}
		}
		return filepath.Join(home, ".influxdbv2", "configs"), nil
	}
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		if home == "" {
			return "", &ConfigError{"INFLUX_CONFIGS_PATH", "starts with ~ but HOME is not set", "write it as an absolute path, e.g. /Users/you/.influxdbv2/configs"}
		}
		p = filepath.Join(home, p[1:])
	}
	if !filepath.IsAbs(p) {
		return "", &ConfigError{"INFLUX_CONFIGS_PATH", fmt.Sprintf("%q is not an absolute path (the MCP client picks the server's working directory)", cfg.ConfigsPath), absFix}
	}
	return filepath.Clean(p), nil
}

// missingVars names the variables the environment lacks, with the verb.
func missingVars(envHost, envToken bool) (vars, verb string) {
	switch {
	case !envHost && !envToken:
		return "INFLUX_HOST and INFLUX_TOKEN", "are"
	case !envHost:
		return "INFLUX_HOST", "is"
	}
	return "INFLUX_TOKEN", "is"
}

// profile is one table of the influx CLI's configs file, decoded as the CLI
// decodes it. Other keys (previous, and whatever later CLI versions add) are
// ignored.
type profile struct {
	URL    string `toml:"url"`
	Token  string `toml:"token"`
	Org    string `toml:"org"`
	Cookie string `toml:"cookie"`
	Active bool   `toml:"active"`
}

// profileKeyTypes are the TOML types of profile's keys, as MetaData.Type
// names them.
var profileKeyTypes = map[string]string{"url": "String", "token": "String", "org": "String", "cookie": "String", "active": "Bool"}

// readProfiles reads and decodes the configs file. Its errors never quote
// the file's content, which holds tokens: a TOML syntax error is reported by
// line, column and key name only. A missing file gives an error satisfying
// errors.Is(err, os.ErrNotExist).
func readProfiles(path string) (map[string]profile, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	const readFix = "make it readable by the user the MCP client runs the server as, or set INFLUX_HOST and INFLUX_TOKEN"
	if err != nil {
		return nil, &ConfigError{path, "cannot be read (" + describeFileError(err) + ")", readFix}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigsFile+1))
	if err != nil {
		return nil, &ConfigError{path, "cannot be read (" + describeFileError(err) + ")", readFix}
	}
	if len(data) > maxConfigsFile {
		return nil, &ConfigError{path, "is larger than 1 MiB, so it is not an influx CLI configs file", "set INFLUX_CONFIGS_PATH to the influx CLI's configs file"}
	}

	const syntaxFix = "correct it (the influx CLI reads the same file), or recreate the profile with " + createProfileHint
	var profiles map[string]profile
	md, err := toml.Decode(string(data), &profiles)
	var pe toml.ParseError
	switch {
	case errors.As(err, &pe):
		where := fmt.Sprintf("line %d, column %d", pe.Position.Line, pe.Position.Col)
		if pe.LastKey != "" {
			where += fmt.Sprintf(", after key %q", pe.LastKey)
		}
		return nil, &ConfigError{path, "is not valid TOML (" + where + ")", syntaxFix}
	case err != nil:
		return nil, wrongType(path, md)
	}
	return profiles, nil
}

// wrongType names the key whose TOML type does not fit a profile, from the
// file's metadata: toml.Decode reports that only as text.
func wrongType(path string, md toml.MetaData) error {
	for _, k := range md.Keys() {
		name := k[0]
		switch {
		case len(k) == 1 && md.Type(name) != "Hash":
			return &ConfigError{path, fmt.Sprintf("has a top-level key %q that is not a [profile] table", name),
				"put each profile's url, token, org and active under a [NAME] header, as influx config create writes them"}
		case len(k) != 2 || profileKeyTypes[k[1]] == "" || md.Type(k...) == profileKeyTypes[k[1]]:
			continue
		case k[1] == "active":
			return &ConfigError{fmt.Sprintf("profile %q in %s", name, path), "has an active that is not true or false", "write active = true or active = false, unquoted"}
		default:
			return &ConfigError{fmt.Sprintf("profile %q in %s", name, path), fmt.Sprintf("has a %s that is not a string", k[1]), "quote the value: " + k[1] + ` = "..."`}
		}
	}
	return &ConfigError{path, "is not an influx CLI configs file", "recreate the profile with " + createProfileHint}
}

// pickProfile chooses the profile named by INFLUX_ACTIVE_CONFIG, else the
// only one marked active. Unlike the influx CLI, which falls back to an
// arbitrary profile when none or several are active, it refuses to guess.
func pickProfile(path string, profiles map[string]profile, want string) (name, by string, err error) {
	names := make([]string, 0, len(profiles))
	var active []string
	for n, p := range profiles {
		names = append(names, n)
		if p.Active {
			active = append(active, n)
		}
	}
	slices.Sort(names)
	slices.Sort(active)
	if want != "" {
		if _, ok := profiles[want]; ok {
			return want, "INFLUX_ACTIVE_CONFIG", nil
		}
		have := "it has no profiles"
		if len(names) > 0 {
			have = "it has " + quoteList(names)
		}
		return "", "", &ConfigError{"INFLUX_ACTIVE_CONFIG", fmt.Sprintf("names profile %q, which is not in %s (%s)", want, path, have),
			"set it to one of those names, or create the profile with " + createProfileHint}
	}
	switch {
	case len(names) == 0:
		return "", "", &ConfigError{path, "has no profiles", "create one with " + createProfileHint + ", or set INFLUX_HOST and INFLUX_TOKEN"}
	case len(active) == 0:
		return "", "", &ConfigError{path, "has no active profile (it has " + quoteList(names) + ")",
			"set INFLUX_ACTIVE_CONFIG to one of them, or make one active with `influx config NAME`"}
	case len(active) > 1:
		return "", "", &ConfigError{path, "marks more than one profile active (" + quoteList(active) + ")",
			"set INFLUX_ACTIVE_CONFIG to one of them, or run `influx config NAME` to leave only that one active"}
	}
	return active[0], "active = true", nil
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// hostProblem describes why ParseHost refused host without echoing a
// password that a URL like https://user:password@host would carry (url.Parse
// and ParseHost quote the whole URL in their errors).
func hostProblem(host string, err error) string {
	if strings.Contains(host, "@") {
		return "it contains @; a user:password@ part must not be there, the token authenticates"
	}
	return err.Error()
}

// configParseError maps caarlos0/env's error for a value of the wrong type to
// the variable's name.
func configParseError(err error, environ map[string]string) error {
	var pe env.ParseError
	if errors.As(err, &pe) {
		switch pe.Name {
		case "Timeout":
			return &ConfigError{"INFLUX_TIMEOUT", "is not a duration", "set it to e.g. 30s or 1m"}
		case "CacheTTL":
			return &ConfigError{"INFLUX_CACHE_TTL", "is not a duration", "set it to e.g. 30s, or 0 to ask InfluxDB on every call"}
		case "SkipVerify":
			return &ConfigError{"INFLUX_SKIP_VERIFY", "is not true or false", "set it to true or false"}
		case "LogLevel": // slog.Level's UnmarshalText refused it
			return &ConfigError{"INFLUX_LOG_LEVEL", fmt.Sprintf("%q is not a log level", environ["INFLUX_LOG_LEVEL"]), "set it to debug, info, warn or error"}
		}
	}
	return err
}

func describeFileError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
