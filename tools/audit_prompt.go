package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

const auditTokensPrompt = "audit_tokens"

// AuditTokensPrompt is the audit_tokens prompt: a full token audit that a
// person can start from the client's prompt menu without knowing what to ask.
func AuditTokensPrompt() server.ServerPrompt {
	prompt := mcp.NewPrompt(auditTokensPrompt,
		mcp.WithPromptTitle("Audit InfluxDB tokens"),
		mcp.WithPromptDescription("Walk through a complete audit of InfluxDB API tokens and finish with a short report and recommendations."),
		mcp.WithArgument("org", mcp.ArgumentDescription("limit the audit to this org (name); all visible orgs if empty")),
		mcp.WithArgument("user", mcp.ArgumentDescription("limit the audit to this user's tokens (name); all users if empty")),
	)
	return server.ServerPrompt{Prompt: prompt, Handler: func(_ context.Context, req mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		for name := range req.Params.Arguments {
			if name != "org" && name != "user" {
				return nil, fmt.Errorf("audit_tokens has no argument %q; it takes org and user", name)
			}
		}
		text := auditSteps(req.Params.Arguments["org"], req.Params.Arguments["user"])
		return mcp.NewGetPromptResult("InfluxDB token audit", []mcp.PromptMessage{
			mcp.NewPromptMessage(mcp.RoleUser, mcp.NewTextContent(text)),
		}), nil
	}}
}

// scopeLine states in the overview step which orgs the audit covers.
func scopeLine(org string) string {
	if org != "" {
		return fmt.Sprintf("Scope: org %q only; say so in the report.", org)
	}
	return "Scope: every org the configured token can see (allOrgs: true ignores the server's default org); say so in the report, and if the answer's notes say it was narrowed to one org, report that instead."
}

// auditSteps writes the audit plan. Every tool call in it is written as
// `tool {json arguments}` so that a test can check each argument against the
// tools' input schemas.
func auditSteps(org, user string) string {
	scope := map[string]any{}
	if org != "" {
		scope["org"] = org
	} else {
		scope["allOrgs"] = true // the server's default org must not narrow the audit
	}
	if user != "" {
		scope["user"] = user
	}
	call := func(tool string, extra ...any) string {
		args := map[string]any{}
		for k, v := range scope {
			args[k] = v
		}
		for i := 0; i+1 < len(extra); i += 2 {
			args[extra[i].(string)] = extra[i+1]
		}
		// Map keys come out sorted, so the text is stable. "<" stays
		// readable, and a backtick in a name must not end the code span.
		var raw strings.Builder
		enc := json.NewEncoder(&raw)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(args)
		return "`" + tool + " " + strings.ReplaceAll(strings.TrimSpace(raw.String()), "`", `\u0060`) + "`"
	}

	var who []string
	if org != "" {
		who = append(who, fmt.Sprintf("org %q", org))
	}
	if user != "" {
		who = append(who, fmt.Sprintf("user %q", user))
	}
	target := "every InfluxDB API token I can see, in every org"
	if len(who) > 0 {
		target = "the InfluxDB API tokens of " + strings.Join(who, " and ")
	}

	old := "<one year ago, RFC 3339>"
	steps := []string{
		fmt.Sprintf("Audit %s with the list_tokens and get_token tools. Never ask for or print token values; the tools never return them.", target),
		"Work economically: every list_tokens call reads InfluxDB's whole token list (recent lists are reused for a short while), so ask for counts first and then one targeted question per finding. Over 10,000 tokens the whole audit should take about 12 calls.",
		"Counts first (limit 0 returns only the summary, over all matches):",
		"1. Overview: " + call("list_tokens", "limit", 0) + ". " + scopeLine(org) + " Report the totals, active/inactive, each risk count, and the orgs and users holding most tokens.",
		"2. Who can write data: " + call("list_tokens", "action", "write", "resourceType", "buckets", "limit", 0) + ".",
		"3. Old tokens: " + call("list_tokens", "createdBefore", old, "status", "active", "limit", 0) + ".",
		"4. Targeted questions, oldest first; skip any whose count in steps 1 to 3 is 0:",
		"   a. Tokens that reach every org: " + call("list_tokens", "risk", riskInstanceWide, "limit", maxLimit) + ". Each should be an operator token kept by an administrator; anything else should be narrowed to one org.",
		"   b. Tokens that can create tokens (privilege escalation): " + call("list_tokens", "risk", riskCanCreateTokens, "limit", maxLimit) + ". Open at most two doubtful ones with `get_token {\"authID\": \"<id>\"}` to see every permission.",
		"   c. Inactive tokens: " + call("list_tokens", "status", "inactive", "limit", 100) + ". Recommend deleting those nobody needs.",
		"   d. Tokens without description: " + call("list_tokens", "risk", riskNoDescription, "limit", 100) + ". Nobody can tell what they are for; recommend describing or deleting them.",
		"   e. Dangling permissions: " + call("list_tokens", "risk", riskDangling, "limit", 100) + ". Their ids name deleted buckets, orgs, users or tokens; a bucket recreated under the same name is not covered. Recommend removing them.",
		"   f. Broad writers: " + call("list_tokens", "action", "write", "resourceType", "buckets", "limit", 200) + ". The text lists the permissions that grant the write; look for org-wide (orgs/<org>/buckets) or all-org (/buckets) grants where one bucket would do.",
		"   g. Old active tokens: " + call("list_tokens", "createdBefore", old, "status", "active", "limit", 100) + ". Recommend rotating them.",
		"5. Paging: do not page through a finding just because truncated is true; cite the oldest tokens shown and give the total count. Page only when the report must name every token of a finding, which is the case for instance-wide tokens when there are at most 1,000: call again with the same arguments and offset = offset + count until truncated is false. For every other finding, the summary of its call says which orgs and users hold those tokens.",
		"Finish with a short report: findings by severity, each with its count and citing token IDs with owner and org, and one recommendation each (deactivate, delete, narrow to specific buckets, add a description, rotate). Say that InfluxDB lists only the tokens the configured token may read.",
	}
	return strings.Join(steps, "\n")
}
