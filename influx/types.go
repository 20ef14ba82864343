package influx

import "time"

// Authorization is an InfluxDB API token as this server keeps it. It has no
// field for the token secret: the JSON decoder skips "token" because nothing
// here can hold it, so a secret can never be passed on by mistake.
type Authorization struct {
	ID          string       `json:"id"`
	Description string       `json:"description"`
	Status      string       `json:"status"`
	OrgID       string       `json:"orgID"`
	Org         string       `json:"org"`
	UserID      string       `json:"userID"`
	User        string       `json:"user"`
	Permissions []Permission `json:"permissions"`
	CreatedAt   time.Time    `json:"createdAt"`
	UpdatedAt   time.Time    `json:"updatedAt"`
}

// Permission grants one action on one resource, or on a whole resource type.
type Permission struct {
	Action   string   `json:"action"`
	Resource Resource `json:"resource"`
}

// Resource is the target of a permission. Without ID it means every resource
// of Type in OrgID; without OrgID as well it means every one in every org.
type Resource struct {
	Type  string `json:"type"`
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	OrgID string `json:"orgID,omitempty"`
	Org   string `json:"org,omitempty"`
}

// Bucket is the part of an InfluxDB bucket needed to place it in its org.
// Type is "system" for an org's _monitoring and _tasks buckets, which
// InfluxDB authorizes reading as reading the org, and "user" otherwise.
type Bucket struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	OrgID string `json:"orgID"`
	Type  string `json:"type"`
}

// User is the part of an InfluxDB user needed to resolve names.
type User struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Organization is the part of an InfluxDB org needed to resolve names.
type Organization struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// ListFilter holds InfluxDB's own query parameters for listing
// authorizations; they combine with AND on the server.
type ListFilter struct {
	User   string
	UserID string
	Org    string
	OrgID  string
}
