package testserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Client is a minimal JSON client for the InfluxDB v2 API, used to onboard
// and seed the server through its real HTTP interface. Tests may use it too.
type Client struct {
	BaseURL string
	Token   string // sent as "Authorization: Token <Token>" when not empty
	HTTP    *http.Client
}

// NewClient returns a client for baseURL that authenticates with token.
func NewClient(baseURL, token string) *Client {
	return &Client{BaseURL: baseURL, Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// APIError is a non-2xx response.
type APIError struct {
	Method     string
	Path       string
	StatusCode int
	Code       string `json:"code"`
	Message    string `json:"message"`
	Body       string // raw body, at most 4 KiB
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.StatusCode, e.Code, e.Message)
}

// Do sends a request with in (if not nil) as its JSON body and decodes a 2xx
// JSON response into out (if not nil). A non-2xx response is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) error {
	_, err := c.do(ctx, method, path, in, out)
	return err
}

// Get is Do with GET and no body.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.Do(ctx, http.MethodGet, path, nil, out)
}

// Raw sends a request without a body and returns the status code and body,
// whatever the status. It fails only when the request itself fails.
func (c *Client) Raw(ctx context.Context, method, path string) (int, []byte, error) {
	req, err := c.newRequest(ctx, method, path, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, body, err
}

func (c *Client) newRequest(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Token "+c.Token)
	}
	return req, nil
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	req, err := c.newRequest(ctx, method, path, in)
	if err != nil {
		return 0, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		apiErr := &APIError{Method: method, Path: path, StatusCode: resp.StatusCode, Body: string(raw)}
		_ = json.Unmarshal(raw, apiErr)
		return resp.StatusCode, apiErr
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: decoding response: %w", method, path, err)
	}
	return resp.StatusCode, nil
}
