// Package binarytest holds the tests of the built influx-token-mcp binary:
// they build it once (with the race detector when they run under it) and
// drive it over stdio the way an MCP client does, against the shared fake
// InfluxDB: start-up failures, stdin EOF, signals, 200 concurrent calls,
// cancellation, malformed and oversized input, huge upstream answers and,
// at every log level, that no token ever shows up anywhere.
package binarytest
