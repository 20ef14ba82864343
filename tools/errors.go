package tools

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// argError is a tool error for an argument the assistant can correct.
func argError(format string, a ...any) *mcp.CallToolResult {
	return mcp.NewToolResultError("Invalid argument: " + fmt.Sprintf(format, a...))
}

// upstreamError turns a failed InfluxDB call into a tool error that names the
// cause and one next step. what says what was asked for ("authID …", "user
// …"); notFound is the next step when InfluxDB answers that it has no such
// thing.
func upstreamError(err error, s Settings, what, notFound string) *mcp.CallToolResult {
	return mcp.NewToolResultError(describe(err, s, what, notFound))
}

// describe is the text of a failed call: one line, clipped, every character
// visible (escapeLine), as upstream text is part of it. The influx package
// has scrubbed the configured token from that text already.
func describe(err error, s Settings, what, notFound string) string {
	return escapeLine(describeRaw(err, s, what, notFound))
}

func describeRaw(err error, s Settings, what, notFound string) string {
	var apiErr *influx.APIError
	var respErr *influx.ResponseError
	var transErr *influx.TransportError
	switch {
	case errors.As(err, &apiErr):
		return describeAPIError(apiErr, s, what, notFound)
	case errors.As(err, &respErr):
		return fmt.Sprintf("%s. Check that INFLUX_HOST (%s) is the base URL of an InfluxDB v2 API (Cloud, Cloud Serverless or OSS 2.x).", respErr.Error(), s.Host)
	case errors.As(err, &transErr):
		return describeTransport(transErr, s)
	case errors.Is(err, influx.ErrInvalidID):
		return "Invalid argument: " + err.Error() + "."
	}
	return "Unexpected error: " + err.Error()
}

func describeAPIError(e *influx.APIError, s Settings, what, notFound string) string {
	said := "InfluxDB answered " + statusText(e)
	if e.Message != "" {
		said += ": " + e.Message // one line: describe escapes it
	}
	if e.NotJSON {
		said += fmt.Sprintf(" with a non-JSON body (%s), so it probably came from a proxy or a server that is not InfluxDB", orDash(e.ContentType))
	}
	switch {
	case e.StatusCode == http.StatusUnauthorized:
		return said + ". The configured token (from INFLUX_TOKEN, INFLUX_TOKEN_FILE or the influx CLI profile) is wrong, expired or inactive, or it lacks read:authorizations for " + what + ". Use a token that has read:authorizations (and read:users to see other users' tokens)."
	case e.StatusCode == http.StatusForbidden:
		return said + ". The configured token may not do this; InfluxDB also answers 403 when the token's own user is inactive. Use a token of an active user with read:authorizations."
	case e.StatusCode == http.StatusNotFound && (e.NotJSON || e.Code == "" || e.Message == "path not found"):
		// Not InfluxDB saying it has no such thing: a proxy's page, Go's
		// plain "404 page not found", or InfluxDB's own answer for a route
		// it does not have. INFLUX_HOST points at the wrong place.
		return said + fmt.Sprintf(". The API path was not found there: check that INFLUX_HOST (%s) is the base URL of an InfluxDB v2 API, with the path prefix of a proxy if there is one.", s.Host)
	case e.StatusCode == http.StatusNotFound:
		return said + ". " + notFound
	case e.StatusCode == http.StatusBadRequest:
		return said + ". InfluxDB rejected the request; correct the argument it names."
	case e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusServiceUnavailable:
		// The client has retried already; this is what is left.
		msg := said + ". InfluxDB is rate-limiting or busy"
		limits := fmt.Sprintf("%d tries, %s", influx.DefaultMaxAttempts, influx.DefaultRetryBudget)
		if e.RetryAfter > influx.DefaultRetryBudget {
			msg += fmt.Sprintf(" and asked to wait %s, longer than this server waits within a call (%s).", e.RetryAfter.Round(time.Second), limits)
		} else {
			msg += fmt.Sprintf(", and kept answering so within the retries allowed (%s).", limits)
		}
		if e.RetryAfter > 0 {
			at := time.Now().Add(e.RetryAfter).UTC().Format(time.TimeOnly)
			return msg + " Please try again after " + at + " UTC."
		}
		return msg + " Try again in a minute."
	case e.StatusCode >= 500:
		return said + ". InfluxDB failed on its side; try again later, and check the server's health if it persists."
	}
	return said + "."
}

func statusText(e *influx.APIError) string {
	s := fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		s += " (" + e.Code + ")"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "no content type"
	}
	return s
}

func describeTransport(e *influx.TransportError, s Settings) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var redirectErr *influx.RedirectError
	switch {
	case errors.As(e.Err, &redirectErr) && redirectErr.TooMany:
		return fmt.Sprintf("InfluxDB at %s kept redirecting (more than %d redirects, the last a %d to %s). Set INFLUX_HOST to the final URL of the InfluxDB API.", e.Host, influx.MaxRedirects, redirectErr.StatusCode, redirectErr.To)
	case errors.As(e.Err, &redirectErr):
		return fmt.Sprintf("InfluxDB at %s answered %d %s, a redirect to another origin, %s. It was not followed, so the token was not sent there. If InfluxDB really is at %s (https instead of http, say), set INFLUX_HOST to that URL.",
			e.Host, redirectErr.StatusCode, http.StatusText(redirectErr.StatusCode), redirectErr.To, redirectErr.To)
	case errors.Is(e.CtxErr, context.Canceled):
		return "The call was cancelled before InfluxDB answered."
	case errors.Is(e.CtxErr, context.DeadlineExceeded):
		return fmt.Sprintf("The call did not finish within its time limit (%s, %d × INFLUX_TIMEOUT, for all the requests it makes to %s). Narrow the question (user, org or resource filters), or raise INFLUX_TIMEOUT.", callTimeout(s), callTimeoutFactor, e.Host)
	case errors.Is(e.Err, context.Canceled):
		return "The call was cancelled before InfluxDB answered."
	case errors.Is(e.Err, context.DeadlineExceeded) || influx.IsTimeout(e.Err):
		return fmt.Sprintf("InfluxDB at %s did not answer within INFLUX_TIMEOUT (%s). Check that the host is reachable, or raise INFLUX_TIMEOUT.", e.Host, s.Timeout)
	case errors.As(e.Err, &dnsErr):
		return fmt.Sprintf("Cannot resolve the host name %q (DNS lookup failed). Check INFLUX_HOST (%s).", dnsErr.Name, s.Host)
	case errors.Is(e.Err, syscall.ECONNREFUSED):
		return fmt.Sprintf("Connection to %s was refused: nothing listens there. Check that InfluxDB is running and that INFLUX_HOST (%s) has the right port.", e.Host, s.Host)
	case errors.As(e.Err, &certErr), errors.As(e.Err, &unknownAuth), errors.As(e.Err, &hostErr), errors.As(e.Err, &invalidCert):
		return fmt.Sprintf("TLS certificate problem with %s: %s. Fix the server's certificate or the host name in INFLUX_HOST; INFLUX_SKIP_VERIFY=true turns verification off, which lets anyone on the network read the token.", e.Host, detail(e))
	case errors.As(e.Err, &recordErr), errors.Is(e.Err, http.ErrSchemeMismatch):
		return fmt.Sprintf("%s did not answer with TLS. INFLUX_HOST probably should start with http:// instead of https://.", e.Host)
	}
	return fmt.Sprintf("Cannot reach InfluxDB at %s: %s. Check INFLUX_HOST and the network.", e.Host, detail(e))
}

// detail is the cause of a transport error as the influx package scrubbed
// and clipped it: the error itself may quote the server's bytes.
func detail(e *influx.TransportError) string {
	if e.Detail != "" {
		return e.Detail
	}
	return "no detail"
}
