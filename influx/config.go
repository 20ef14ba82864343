package influx

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Config is the server's configuration. Variable names follow the influx CLI.
type Config struct {
	Host       string        `env:"INFLUX_HOST"`
	Token      string        `env:"INFLUX_TOKEN"`
	TokenFile  string        `env:"INFLUX_TOKEN_FILE"`
	Org        string        `env:"INFLUX_ORG"`
	OrgID      string        `env:"INFLUX_ORG_ID"`
	Timeout    time.Duration `env:"INFLUX_TIMEOUT" envDefault:"30s"`
	SkipVerify bool          `env:"INFLUX_SKIP_VERIFY"`
	LogLevel   string        `env:"INFLUX_LOG_LEVEL" envDefault:"info"`
}

// ConfigError names the variable that is wrong and how to fix it, in one line.
type ConfigError struct {
	Var     string
	Problem string
	Fix     string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("%s %s: %s", e.Var, e.Problem, e.Fix) }

// LoadConfig reads the configuration from environ (os.Environ as a map) and
// checks it. The token file, if any, is read here.
func LoadConfig(environ map[string]string) (Config, error) {
	cfg, err := env.ParseAsWithOptions[Config](env.Options{Environment: environ})
	if err != nil {
		return cfg, configParseError(err)
	}
	if cfg.Host == "" {
		return cfg, &ConfigError{"INFLUX_HOST", "is not set", "set it to your InfluxDB URL, e.g. http://localhost:8086 or https://us-east-1-1.aws.cloud2.influxdata.com"}
	}
	if _, err := ParseHost(cfg.Host); err != nil {
		return cfg, &ConfigError{"INFLUX_HOST", "is not a valid URL (" + err.Error() + ")", "set it to a base URL such as http://localhost:8086"}
	}
	switch {
	case cfg.Token != "" && cfg.TokenFile != "":
		return cfg, &ConfigError{"INFLUX_TOKEN_FILE", "is set together with INFLUX_TOKEN", "set only one of them"}
	case cfg.TokenFile != "":
		raw, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			return cfg, &ConfigError{"INFLUX_TOKEN_FILE", "cannot be read (" + describeFileError(err) + ")", "point it at a readable file that holds the token"}
		}
		cfg.Token = strings.TrimRight(string(raw), "\r\n")
		if strings.TrimSpace(cfg.Token) == "" {
			return cfg, &ConfigError{"INFLUX_TOKEN_FILE", "names an empty file", "write the API token into " + cfg.TokenFile}
		}
	case cfg.Token == "":
		return cfg, &ConfigError{"INFLUX_TOKEN", "is not set", "set it to an API token with read:authorizations (and read:users), or set INFLUX_TOKEN_FILE to a file that holds one"}
	}
	if strings.ContainsAny(cfg.Token, "\r\n") {
		return cfg, &ConfigError{"INFLUX_TOKEN", "contains a line break", "set it to the token alone"}
	}
	if cfg.Org != "" && cfg.OrgID != "" {
		return cfg, &ConfigError{"INFLUX_ORG_ID", "is set together with INFLUX_ORG", "set only one of them, as with the influx CLI"}
	}
	if cfg.OrgID != "" && ValidateID(cfg.OrgID) != nil {
		return cfg, &ConfigError{"INFLUX_ORG_ID", fmt.Sprintf("%q is not an InfluxDB ID", cfg.OrgID), "set it to the org's 16-hex-digit ID, or use INFLUX_ORG with its name"}
	}
	if cfg.Timeout <= 0 {
		return cfg, &ConfigError{"INFLUX_TIMEOUT", fmt.Sprintf("%q is not a positive duration", cfg.Timeout), "set it to e.g. 30s or 1m"}
	}
	if _, err := ParseLogLevel(cfg.LogLevel); err != nil {
		return cfg, &ConfigError{"INFLUX_LOG_LEVEL", fmt.Sprintf("%q is not a log level", cfg.LogLevel), "set it to debug, info, warn or error"}
	}
	return cfg, nil
}

// ParseLogLevel reads debug, info, warn or error.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	switch strings.ToLower(s) {
	case "debug", "info", "warn", "error":
		return l, l.UnmarshalText([]byte(s))
	}
	return l, errors.New("unknown level")
}

// configParseError maps caarlos0/env's error for a value of the wrong type to
// the variable's name.
func configParseError(err error) error {
	var pe env.ParseError
	if errors.As(err, &pe) {
		switch pe.Name {
		case "Timeout":
			return &ConfigError{"INFLUX_TIMEOUT", "is not a duration", "set it to e.g. 30s or 1m"}
		case "SkipVerify":
			return &ConfigError{"INFLUX_SKIP_VERIFY", "is not true or false", "set it to true or false"}
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
