package influx

import (
	"strings"
	"time"
	"unsafe"
)

// compactList holds a token list in about a third of the memory of its
// decoded tokens: the strings that tokens repeat (status, orgs, users) and
// every distinct permission are stored once and referred to by index, and
// each token is a small fixed record. each hands out ordinary
// Authorizations built from it.
type compactList struct {
	chunks   [][]compactAuth // in chunks, so that the list is never copied to grow
	strs     []string        // distinct repeated strings; strs[0] is ""
	strIndex map[string]uint32
	perms    []Permission // distinct permissions, their strings shared
	permIdx  map[Permission]uint32
	tokPerms []uint32 // each token's permissions, as indices into perms, one after another
	size     int64    // bytes held, estimated
}

type compactAuth struct {
	id, description                  string
	createdAt, updatedAt             time.Time
	status, orgID, org, userID, user uint32
	permStart, permCount             uint32 // its permissions are tokPerms[permStart:][:permCount]
}

const compactChunk = 1024

func newCompactList() *compactList {
	return &compactList{strs: []string{""}, strIndex: map[string]uint32{"": 0}, permIdx: map[Permission]uint32{}}
}

// Rough per-entry costs of the maps and string headers, for size.
const (
	mapEntryBytes  = 48
	stringHdrBytes = int64(unsafe.Sizeof(""))
)

func (l *compactList) str(s string) uint32 {
	if i, ok := l.strIndex[s]; ok {
		return i
	}
	s = strings.Clone(s)
	i := uint32(len(l.strs))
	l.strs = append(l.strs, s)
	l.strIndex[s] = i
	l.size += int64(len(s)) + 2*stringHdrBytes + mapEntryBytes
	return i
}

func (l *compactList) perm(p Permission) uint32 {
	if i, ok := l.permIdx[p]; ok {
		return i
	}
	r := p.Resource
	sh := func(s string) string { return l.strs[l.str(s)] }
	p = Permission{Action: sh(p.Action), Resource: Resource{Type: sh(r.Type), ID: sh(r.ID), Name: sh(r.Name), OrgID: sh(r.OrgID), Org: sh(r.Org)}}
	i := uint32(len(l.perms))
	l.perms = append(l.perms, p)
	l.permIdx[p] = i
	l.size += 2*int64(unsafe.Sizeof(p)) + mapEntryBytes
	return i
}

func (l *compactList) add(a *Authorization) {
	if n := len(l.chunks); n == 0 || len(l.chunks[n-1]) == compactChunk {
		l.chunks = append(l.chunks, make([]compactAuth, 0, compactChunk))
		l.size += compactChunk * int64(unsafe.Sizeof(compactAuth{}))
	}
	c := compactAuth{
		id: strings.Clone(a.ID), description: strings.Clone(a.Description),
		createdAt: a.CreatedAt, updatedAt: a.UpdatedAt,
		status: l.str(a.Status), orgID: l.str(a.OrgID), org: l.str(a.Org), userID: l.str(a.UserID), user: l.str(a.User),
		permStart: uint32(len(l.tokPerms)), permCount: uint32(len(a.Permissions)),
	}
	for _, p := range a.Permissions {
		l.tokPerms = append(l.tokPerms, l.perm(p))
	}
	l.size += int64(len(c.id)+len(c.description)) + 4*int64(len(a.Permissions))
	last := &l.chunks[len(l.chunks)-1]
	*last = append(*last, c)
}

// done drops what only adding needs.
func (l *compactList) done() {
	l.strIndex, l.permIdx = nil, nil
	l.tokPerms = l.tokPerms[:len(l.tokPerms):len(l.tokPerms)]
}

// each hands fn every token, each a new Authorization.
func (l *compactList) each(fn func(*Authorization) error) error {
	for _, chunk := range l.chunks {
		for i := range chunk {
			c := &chunk[i]
			a := &Authorization{
				ID: c.id, Description: c.description,
				Status: l.strs[c.status], OrgID: l.strs[c.orgID], Org: l.strs[c.org], UserID: l.strs[c.userID], User: l.strs[c.user],
				CreatedAt: c.createdAt, UpdatedAt: c.updatedAt,
			}
			if c.permCount > 0 {
				a.Permissions = make([]Permission, c.permCount)
				for j, p := range l.tokPerms[c.permStart : c.permStart+c.permCount] {
					a.Permissions[j] = l.perms[p]
				}
			}
			if err := fn(a); err != nil {
				return err
			}
		}
	}
	return nil
}
