package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/tokenaudit/influx-token-mcp/influx"
)

// GetTokenInput is get_token's argument.
type GetTokenInput struct {
	AuthID string `json:"authID" jsonschema:"the token's authorization ID, 16 hex digits (the id field of list_tokens)"`
}

// TokenDetail is get_token's structured result: the list fields plus every
// permission in full.
type TokenDetail struct {
	Token
	PermissionDetails []PermissionDetail `json:"permissionDetails" jsonschema:"every permission in full, in the order of permissions"`
	Notes             []string           `json:"notes" jsonschema:"caveats, e.g. risk flags that could not be checked"`
}

// PermissionDetail is one permission as InfluxDB returned it, next to its
// readable form.
type PermissionDetail struct {
	Permission string          `json:"permission" jsonschema:"the readable form, as in permissions"`
	Action     string          `json:"action"`
	Resource   influx.Resource `json:"resource"`
}

// GetToken is the get_token tool.
func GetToken(c Client, s Settings) server.ServerTool {
	tool := mcp.NewTool("get_token",
		mcp.WithDescription("Show one InfluxDB API token (authorization) by its ID: owner, org, status, times, risk flags and every permission in full "+
			"(resource type, ID, name, org). Use list_tokens to find IDs. The token value is never shown."),
		mcp.WithInputSchema[GetTokenInput](),
		mcp.WithOutputSchema[TokenDetail](),
		readOnly("Get one InfluxDB token"),
		nonNullable(),
	)
	return server.ServerTool{Tool: tool, Handler: mcp.NewTypedToolHandler(func(ctx context.Context, _ mcp.CallToolRequest, in GetTokenInput) (*mcp.CallToolResult, error) {
		return getToken(ctx, c, s, in), nil
	})}
}

func getToken(ctx context.Context, c Client, s Settings, in GetTokenInput) *mcp.CallToolResult {
	if influx.ValidateID(in.AuthID) != nil {
		return argError("authID %q is not an InfluxDB ID (16 hexadecimal digits, e.g. 0a1b2c3d4e5f6a7b); take it from the id field of list_tokens.", clip(in.AuthID))
	}
	a, err := c.GetAuthorization(ctx, in.AuthID)
	if err != nil {
		return upstreamError(err, s, "authID "+in.AuthID,
			fmt.Sprintf("No token has authID %s: it was deleted, or the ID is wrong. list_tokens shows the IDs that exist.", in.AuthID))
	}
	dir := newDirectory(c)
	risks, reasons := risksOf(ctx, a, dir)
	d := TokenDetail{Token: newToken(a, risks, reasons), PermissionDetails: make([]PermissionDetail, len(a.Permissions))}
	d.Notes = append([]string{}, dir.notes(s)...)
	for i, p := range a.Permissions {
		d.PermissionDetails[i] = PermissionDetail{Permission: d.Permissions[i], Action: p.Action, Resource: p.Resource}
	}
	text := renderDetail(&d)
	if note := fitDetail(&d); note != "" {
		text += "\nNote: " + note
	}
	return mcp.NewToolResultStructured(d, finishText(text))
}

func renderDetail(d *TokenDetail) string {
	var dangling []string
	for _, r := range d.RiskReasons {
		if r.Risk == riskDangling {
			dangling = r.Permissions
		}
	}
	var b strings.Builder
	writeToken(&b, &d.Token)
	// Every value from InfluxDB goes through plain or quoted (untrusted.go).
	fmt.Fprintf(&b, "user %s (%s), org %s (%s), created %s, updated %s\n", plainOr("", d.User), plainOr("", d.UserID), plainOr("", d.Org), plainOr("", d.OrgID), d.CreatedAt, d.UpdatedAt)
	for _, p := range d.PermissionDetails {
		r := p.Resource
		fmt.Fprintf(&b, "  %s: type=%s", permissionText(influx.Permission{Action: p.Action, Resource: r}), plain(r.Type))
		for _, kv := range [][2]string{{"id", r.ID}, {"name", r.Name}, {"orgID", r.OrgID}, {"org", r.Org}} {
			if kv[1] != "" {
				fmt.Fprintf(&b, " %s=%s", kv[0], plain(kv[1]))
			}
		}
		if slices.Contains(dangling, p.Permission) {
			fmt.Fprintf(&b, " (dangling: no %s has this id any more)", strings.TrimSuffix(r.Type, "s"))
		}
		b.WriteByte('\n')
	}
	for _, n := range d.Notes {
		b.WriteString("Note: " + n + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}
