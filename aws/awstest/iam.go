package awstest

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// This file implements the IAM actions, following the IAM API reference
// for parameters, result shapes and error codes.

var iamHandlers = map[string]handler{
	"CreateUser":                (*Server).createUser,
	"GetUser":                   (*Server).getUser,
	"DeleteUser":                (*Server).deleteUser,
	"ListUsers":                 (*Server).listUsers,
	"TagUser":                   users.tag,
	"UntagUser":                 users.untag,
	"ListUserTags":              users.listTags,
	"PutUserPolicy":             users.putPolicy,
	"GetUserPolicy":             users.getPolicy,
	"ListUserPolicies":          users.listPolicies,
	"DeleteUserPolicy":          users.deletePolicy,
	"AttachUserPolicy":          users.attachPolicy,
	"DetachUserPolicy":          users.detachPolicy,
	"ListAttachedUserPolicies":  users.listAttachedPolicies,
	"CreateGroup":               (*Server).createGroup,
	"GetGroup":                  (*Server).getGroup,
	"DeleteGroup":               (*Server).deleteGroup,
	"ListGroups":                (*Server).listGroups,
	"AddUserToGroup":            (*Server).addUserToGroup,
	"RemoveUserFromGroup":       (*Server).removeUserFromGroup,
	"ListGroupsForUser":         (*Server).listGroupsForUser,
	"PutGroupPolicy":            groups.putPolicy,
	"GetGroupPolicy":            groups.getPolicy,
	"ListGroupPolicies":         groups.listPolicies,
	"DeleteGroupPolicy":         groups.deletePolicy,
	"AttachGroupPolicy":         groups.attachPolicy,
	"DetachGroupPolicy":         groups.detachPolicy,
	"ListAttachedGroupPolicies": groups.listAttachedPolicies,
	"CreateRole":                (*Server).createRole,
	"GetRole":                   (*Server).getRole,
	"DeleteRole":                (*Server).deleteRole,
	"ListRoles":                 (*Server).listRoles,
	"UpdateRole":                (*Server).updateRole,
	"UpdateAssumeRolePolicy":    (*Server).updateAssumeRolePolicy,
	"TagRole":                   roles.tag,
	"UntagRole":                 roles.untag,
	"ListRoleTags":              roles.listTags,
	"PutRolePolicy":             roles.putPolicy,
	"GetRolePolicy":             roles.getPolicy,
	"ListRolePolicies":          roles.listPolicies,
	"DeleteRolePolicy":          roles.deletePolicy,
	"AttachRolePolicy":          roles.attachPolicy,
	"DetachRolePolicy":          roles.detachPolicy,
	"ListAttachedRolePolicies":  roles.listAttachedPolicies,
	"CreateAccessKey":           (*Server).createAccessKey,
	"ListAccessKeys":            (*Server).listAccessKeys,
	"UpdateAccessKey":           (*Server).updateAccessKey,
	"DeleteAccessKey":           (*Server).deleteAccessKey,
	"GetAccessKeyLastUsed":      (*Server).getAccessKeyLastUsed,
}

// managedPolicies are the AWS managed policies the server knows, by ARN.
// Attaching any other policy ARN fails with NoSuchEntity.
var managedPolicies = map[string]string{
	"arn:aws:iam::aws:policy/AdministratorAccess": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/ReadOnlyAccess":      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["*:Get*","*:List*","*:Describe*"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/IAMReadOnlyAccess":   `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*","iam:GenerateServiceLastAccessedDetails"],"Resource":"*"}]}`,
	"arn:aws:iam::aws:policy/PowerUserAccess":     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"}]}`,
}

const maxAccessKeysPerUser = 2

var (
	nameRE    = regexp.MustCompile(`^[\w+=,.@-]+$`)
	pathRE    = regexp.MustCompile(`^/([\x21-\x7e]*/)?$`)
	accountRE = regexp.MustCompile(`^\d{12}$`)
)

func checkName(field, v string, max int) *apiError {
	if v == "" {
		return errValidation("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	if len(v) > max {
		return errValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", v, field, max)
	}
	if !nameRE.MatchString(v) {
		return errValidation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", v, field)
	}
	return nil
}

func checkPath(v string) (string, *apiError) {
	if v == "" {
		return "/", nil
	}
	if len(v) > 512 || !pathRE.MatchString(v) {
		return "", errValidation("The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	return v, nil
}

// parseMembers reads a query-protocol list: prefix.member.1, .2, …
func parseMembers(p url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := p[prefix+".member."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

// parseTags reads Tags.member.N.Key / .Value.
func parseTags(p url.Values) ([]xTag, *apiError) {
	var out []xTag
	seen := map[string]bool{}
	for i := 1; ; i++ {
		base := "Tags.member." + strconv.Itoa(i)
		k, ok := p[base+".Key"]
		if !ok {
			break
		}
		if k[0] == "" || len(k[0]) > 128 || len(p.Get(base+".Value")) > 256 {
			return nil, errValidation("1 validation error detected: tag %d has an invalid key or value length", i)
		}
		if seen[k[0]] {
			return nil, newError(http.StatusBadRequest, "InvalidInput", "Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k[0]] = true
		out = append(out, xTag{Key: k[0], Value: p.Get(base + ".Value")})
	}
	return out, nil
}

func mergeTags(have, add []xTag) ([]xTag, *apiError) {
	for _, t := range add {
		replaced := false
		for i := range have {
			if strings.EqualFold(have[i].Key, t.Key) {
				have[i] = t
				replaced = true
			}
		}
		if !replaced {
			have = append(have, t)
		}
	}
	if len(have) > 50 {
		return nil, errLimitExceeded("The number of tags has reached the maximum limit.")
	}
	return have, nil
}

func removeTags(have []xTag, keys []string) []xTag {
	out := have[:0]
	for _, t := range have {
		drop := false
		for _, k := range keys {
			drop = drop || strings.EqualFold(k, t.Key)
		}
		if !drop {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) xUser(u *user) xUser {
	return xUser{Path: u.Path, UserName: u.Name, UserId: u.ID, Arn: s.userARN(u), CreateDate: isoTime(u.Created), Tags: tagsOf(u.Tags)}
}

func (s *Server) xRole(r *role) xRole {
	return xRole{Path: r.Path, RoleName: r.Name, RoleId: r.ID, Arn: s.roleARN(r), CreateDate: isoTime(r.Created),
		AssumeRolePolicyDocument: url.QueryEscape(r.Trust), Description: r.Description, MaxSessionDuration: r.MaxSession, Tags: tagsOf(r.Tags)}
}

// userARNFor is the ARN used for authorization before the user exists.
func (s *Server) userARNFor(path, name string) string {
	return "arn:aws:iam::" + s.st.Account + ":user" + path + name
}

// lookupUser authorizes action on the named user and returns it.
func (s *Server) lookupUser(c *call, action string) (*user, *apiError) {
	name := c.get("UserName")
	if name == "" && c.caller.user != nil {
		name = c.caller.user.Name
	}
	if name == "" {
		return nil, errValidation("Must specify userName when calling with non-User credentials")
	}
	if err := checkName("userName", name, 64); err != nil {
		return nil, err
	}
	u := s.st.Users[name]
	arn := s.userARNFor("/", name)
	if u != nil {
		arn = s.userARN(u)
	}
	if err := s.authorize(c, action, arn, nil); err != nil {
		return nil, err
	}
	if u == nil {
		return nil, errNoSuchEntity("The user with name %s cannot be found.", name)
	}
	return u, nil
}

func (s *Server) lookupRole(c *call, action string) (*role, *apiError) {
	name := c.get("RoleName")
	if err := checkName("roleName", name, 64); err != nil {
		return nil, err
	}
	r := s.st.Roles[name]
	arn := "arn:aws:iam::" + s.st.Account + ":role/" + name
	if r != nil {
		arn = s.roleARN(r)
	}
	if err := s.authorize(c, action, arn, nil); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errNoSuchEntity("The role with name %s cannot be found.", name)
	}
	return r, nil
}

// checkPolicy validates a document for Put*Policy and the trust policy
// calls; trust policies must also name principals that exist.
func (s *Server) checkPolicy(doc string, kind policyKind) *apiError {
	if doc == "" {
		return errValidation("1 validation error detected: Value null at 'policyDocument' failed to satisfy constraint: Member must not be null")
	}
	p, err := parsePolicy(doc, kind)
	if err != nil {
		return errMalformedPolicy(strings.TrimPrefix(err.Error(), errMalformed.Error()+": "))
	}
	if kind == trustPolicy {
		for _, st := range p.Statements {
			for _, pr := range st.Principals {
				if !s.principalExists(pr) {
					return errMalformedPolicy("Invalid principal in policy: \"AWS\":\"" + pr + "\"")
				}
			}
		}
	}
	return nil
}

// principalExists checks a trust policy principal the way IAM does when
// the policy is saved: ARNs of this account's users and roles must exist.
func (s *Server) principalExists(p string) bool {
	if p == "*" || accountRE.MatchString(p) || strings.HasSuffix(p, ":root") {
		return true
	}
	prefix := "arn:aws:iam::" + s.st.Account + ":"
	rest, ok := strings.CutPrefix(p, prefix)
	if !ok {
		return strings.HasPrefix(p, "arn:aws:iam::") // other accounts: not ours to check
	}
	switch {
	case strings.HasPrefix(rest, "user/"):
		for _, u := range s.st.Users {
			if s.userARN(u) == p {
				return true
			}
		}
	case strings.HasPrefix(rest, "role/"):
		for _, r := range s.st.Roles {
			if s.roleARN(r) == p {
				return true
			}
		}
	}
	return false
}

func policyName(c *call) (string, *apiError) {
	n := c.get("PolicyName")
	return n, checkName("policyName", n, 128)
}

// Users.

func (s *Server) createUser(c *call) (any, *apiError) {
	name := c.get("UserName")
	if err := checkName("userName", name, 64); err != nil {
		return nil, err
	}
	path, err := checkPath(c.get("Path"))
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(c.params)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, "iam:CreateUser", s.userARNFor(path, name), nil); err != nil {
		return nil, err
	}
	if s.st.Users[name] != nil {
		return nil, errAlreadyExists("User with name %s already exists.", name)
	}
	u := &user{Name: name, Path: path, ID: newID("AIDA", 17), Created: s.now(), entity: entity{Tags: tags, Inline: map[string]string{}}}
	s.st.Users[name] = u
	return struct{ User xUser }{s.xUser(u)}, nil
}

func (s *Server) getUser(c *call) (any, *apiError) {
	if c.get("UserName") == "" && c.caller.kind == "root" {
		return struct{ User xUser }{xUser{Path: "/", UserId: s.st.Account, Arn: c.caller.arn, CreateDate: isoTime(s.now())}}, nil
	}
	u, err := s.lookupUser(c, "iam:GetUser")
	if err != nil {
		return nil, err
	}
	return struct{ User xUser }{s.xUser(u)}, nil
}

func (s *Server) deleteUser(c *call) (any, *apiError) {
	u, err := s.lookupUser(c, "iam:DeleteUser")
	if err != nil {
		return nil, err
	}
	for _, k := range s.st.Keys {
		if k.User == u.Name {
			return nil, errDeleteConflict("Cannot delete entity, must delete access keys first.")
		}
	}
	if len(u.Inline) > 0 {
		return nil, errDeleteConflict("Cannot delete entity, must delete policies first.")
	}
	if len(u.Attached) > 0 {
		return nil, errDeleteConflict("Cannot delete entity, must detach all policies first.")
	}
	if len(s.groupsOf(u.Name)) > 0 {
		return nil, errDeleteConflict("Cannot delete entity, must remove users from group first.")
	}
	delete(s.st.Users, u.Name)
	return nil, nil
}

func (s *Server) listUsers(c *call) (any, *apiError) {
	prefix, err := checkPath(c.get("PathPrefix"))
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, "iam:ListUsers", "arn:aws:iam::"+s.st.Account+":user"+prefix, nil); err != nil {
		return nil, err
	}
	var out []xUser
	for _, name := range sortedKeys(s.st.Users) {
		u := s.st.Users[name]
		if strings.HasPrefix(u.Path, prefix) {
			x := s.xUser(u)
			x.Tags = nil // ListUsers does not return tags
			out = append(out, x)
		}
	}
	return struct {
		Users       []xUser `xml:"Users>member"`
		IsTruncated bool
	}{out, false}, nil
}

// Groups.

func (s *Server) xGroup(g *group) xGroup {
	return xGroup{Path: g.Path, GroupName: g.Name, GroupId: g.ID, Arn: s.groupARN(g), CreateDate: isoTime(g.Created)}
}

// lookupGroup authorizes action on the named group and returns it.
func (s *Server) lookupGroup(c *call, action string) (*group, *apiError) {
	name := c.get("GroupName")
	if err := checkName("groupName", name, 128); err != nil {
		return nil, err
	}
	g := s.st.Groups[name]
	arn := "arn:aws:iam::" + s.st.Account + ":group/" + name
	if g != nil {
		arn = s.groupARN(g)
	}
	if err := s.authorize(c, action, arn, nil); err != nil {
		return nil, err
	}
	if g == nil {
		return nil, errNoSuchEntity("The group with name %s cannot be found.", name)
	}
	return g, nil
}

func (s *Server) createGroup(c *call) (any, *apiError) {
	name := c.get("GroupName")
	if err := checkName("groupName", name, 128); err != nil {
		return nil, err
	}
	path, err := checkPath(c.get("Path"))
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, "iam:CreateGroup", "arn:aws:iam::"+s.st.Account+":group"+path+name, nil); err != nil {
		return nil, err
	}
	if s.st.Groups[name] != nil {
		return nil, errAlreadyExists("Group with name %s already exists.", name)
	}
	g := &group{Name: name, Path: path, ID: newID("AGPA", 17), Created: s.now(), entity: entity{Inline: map[string]string{}}}
	s.st.Groups[name] = g
	return struct{ Group xGroup }{s.xGroup(g)}, nil
}

func (s *Server) getGroup(c *call) (any, *apiError) {
	g, err := s.lookupGroup(c, "iam:GetGroup")
	if err != nil {
		return nil, err
	}
	var members []xUser
	for _, name := range g.Members {
		if u := s.st.Users[name]; u != nil {
			x := s.xUser(u)
			x.Tags = nil
			members = append(members, x)
		}
	}
	return struct {
		Group       xGroup
		Users       []xUser `xml:"Users>member"`
		IsTruncated bool
	}{s.xGroup(g), members, false}, nil
}

func (s *Server) deleteGroup(c *call) (any, *apiError) {
	g, err := s.lookupGroup(c, "iam:DeleteGroup")
	if err != nil {
		return nil, err
	}
	switch {
	case len(g.Members) > 0:
		return nil, errDeleteConflict("Cannot delete entity, must remove users from group first.")
	case len(g.Inline) > 0:
		return nil, errDeleteConflict("Cannot delete entity, must delete policies first.")
	case len(g.Attached) > 0:
		return nil, errDeleteConflict("Cannot delete entity, must detach all policies first.")
	}
	delete(s.st.Groups, g.Name)
	return nil, nil
}

func (s *Server) listGroups(c *call) (any, *apiError) {
	prefix, err := checkPath(c.get("PathPrefix"))
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, "iam:ListGroups", "arn:aws:iam::"+s.st.Account+":group"+prefix, nil); err != nil {
		return nil, err
	}
	var out []xGroup
	for _, name := range sortedKeys(s.st.Groups) {
		if g := s.st.Groups[name]; strings.HasPrefix(g.Path, prefix) {
			out = append(out, s.xGroup(g))
		}
	}
	return groupList{Groups: out}, nil
}

type groupList struct {
	Groups      []xGroup `xml:"Groups>member"`
	IsTruncated bool
}

// membership authorizes action on the group and finds the user, for
// AddUserToGroup and RemoveUserFromGroup.
func (s *Server) membership(c *call, action string) (*group, *user, *apiError) {
	g, err := s.lookupGroup(c, action)
	if err != nil {
		return nil, nil, err
	}
	name := c.get("UserName")
	if err := checkName("userName", name, 64); err != nil {
		return nil, nil, err
	}
	u := s.st.Users[name]
	if u == nil {
		return nil, nil, errNoSuchEntity("The user with name %s cannot be found.", name)
	}
	return g, u, nil
}

func (s *Server) addUserToGroup(c *call) (any, *apiError) {
	g, u, err := s.membership(c, "iam:AddUserToGroup")
	if err != nil {
		return nil, err
	}
	g.Members = attach(g.Members, u.Name)
	return nil, nil
}

func (s *Server) removeUserFromGroup(c *call) (any, *apiError) {
	g, u, err := s.membership(c, "iam:RemoveUserFromGroup")
	if err != nil {
		return nil, err
	}
	var ok bool
	if g.Members, ok = detach(g.Members, u.Name); !ok {
		return nil, errNoSuchEntity("The user with name %s cannot be found.", u.Name)
	}
	return nil, nil
}

func (s *Server) listGroupsForUser(c *call) (any, *apiError) {
	u, err := s.lookupUser(c, "iam:ListGroupsForUser")
	if err != nil {
		return nil, err
	}
	var out []xGroup
	for _, g := range s.groupsOf(u.Name) {
		out = append(out, s.xGroup(g))
	}
	return groupList{Groups: out}, nil
}

// Roles.

func checkMaxSession(v string) (int, *apiError) {
	if v == "" {
		return 3600, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 3600 || n > 43200 {
		return 0, errValidation("The requested MaxSessionDuration %s is invalid; it must be between 3600 and 43200 seconds.", v)
	}
	return n, nil
}

func (s *Server) createRole(c *call) (any, *apiError) {
	name := c.get("RoleName")
	if err := checkName("roleName", name, 64); err != nil {
		return nil, err
	}
	path, err := checkPath(c.get("Path"))
	if err != nil {
		return nil, err
	}
	maxSession, err := checkMaxSession(c.get("MaxSessionDuration"))
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(c.params)
	if err != nil {
		return nil, err
	}
	if len(c.get("Description")) > 1000 {
		return nil, errValidation("Description is longer than 1000 characters.")
	}
	if err := s.authorize(c, "iam:CreateRole", "arn:aws:iam::"+s.st.Account+":role"+path+name, nil); err != nil {
		return nil, err
	}
	if s.st.Roles[name] != nil {
		return nil, errAlreadyExists("Role with name %s already exists.", name)
	}
	trust := c.get("AssumeRolePolicyDocument")
	if err := s.checkPolicy(trust, trustPolicy); err != nil {
		return nil, err
	}
	r := &role{Name: name, Path: path, ID: newID("AROA", 17), Description: c.get("Description"), Created: s.now(),
		Trust: trust, MaxSession: maxSession, entity: entity{Tags: tags, Inline: map[string]string{}}}
	s.st.Roles[name] = r
	return struct{ Role xRole }{s.xRole(r)}, nil
}

func (s *Server) getRole(c *call) (any, *apiError) {
	r, err := s.lookupRole(c, "iam:GetRole")
	if err != nil {
		return nil, err
	}
	return struct{ Role xRole }{s.xRole(r)}, nil
}

func (s *Server) deleteRole(c *call) (any, *apiError) {
	r, err := s.lookupRole(c, "iam:DeleteRole")
	if err != nil {
		return nil, err
	}
	if len(r.Inline) > 0 || len(r.Attached) > 0 {
		return nil, errDeleteConflict("Cannot delete entity, must delete policies first.")
	}
	delete(s.st.Roles, r.Name)
	return nil, nil
}

func (s *Server) listRoles(c *call) (any, *apiError) {
	prefix, err := checkPath(c.get("PathPrefix"))
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c, "iam:ListRoles", "arn:aws:iam::"+s.st.Account+":role"+prefix, nil); err != nil {
		return nil, err
	}
	var out []xRole
	for _, name := range sortedKeys(s.st.Roles) {
		r := s.st.Roles[name]
		if strings.HasPrefix(r.Path, prefix) {
			x := s.xRole(r)
			x.Tags = nil
			out = append(out, x)
		}
	}
	return struct {
		Roles       []xRole `xml:"Roles>member"`
		IsTruncated bool
	}{out, false}, nil
}

func (s *Server) updateRole(c *call) (any, *apiError) {
	r, err := s.lookupRole(c, "iam:UpdateRole")
	if err != nil {
		return nil, err
	}
	if v := c.get("MaxSessionDuration"); v != "" {
		n, err := checkMaxSession(v)
		if err != nil {
			return nil, err
		}
		r.MaxSession = n
	}
	if _, ok := c.params["Description"]; ok {
		r.Description = c.get("Description")
	}
	return struct{}{}, nil
}

func (s *Server) updateAssumeRolePolicy(c *call) (any, *apiError) {
	r, err := s.lookupRole(c, "iam:UpdateAssumeRolePolicy")
	if err != nil {
		return nil, err
	}
	doc := c.get("PolicyDocument")
	if err := s.checkPolicy(doc, trustPolicy); err != nil {
		return nil, err
	}
	r.Trust = doc
	return nil, nil
}

// Tags and policies of users and roles.

// entityKind says which kind of entity, user or role, a tag or policy
// action works on. The action authorized is the one called
// ("iam:"+c.action, e.g. iam:TagUser or iam:TagRole).
type entityKind struct {
	noun   string // "user" or "role", as IAM's messages name it
	lookup func(s *Server, c *call, action string) (name string, e *entity, err *apiError)
}

var (
	users  = entityKind{noun: "user", lookup: (*Server).userEntity}
	roles  = entityKind{noun: "role", lookup: (*Server).roleEntity}
	groups = entityKind{noun: "group", lookup: (*Server).groupEntity}
)

func (s *Server) userEntity(c *call, action string) (string, *entity, *apiError) {
	u, err := s.lookupUser(c, action)
	if err != nil {
		return "", nil, err
	}
	return u.Name, &u.entity, nil
}

func (s *Server) roleEntity(c *call, action string) (string, *entity, *apiError) {
	r, err := s.lookupRole(c, action)
	if err != nil {
		return "", nil, err
	}
	return r.Name, &r.entity, nil
}

func (s *Server) groupEntity(c *call, action string) (string, *entity, *apiError) {
	g, err := s.lookupGroup(c, action)
	if err != nil {
		return "", nil, err
	}
	return g.Name, &g.entity, nil
}

// find authorizes the call's action on the named entity and returns it.
func (k entityKind) find(s *Server, c *call) (string, *entity, *apiError) {
	return k.lookup(s, c, "iam:"+c.action)
}

func (k entityKind) tag(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(c.params)
	if err != nil {
		return nil, err
	}
	merged, err := mergeTags(append([]xTag{}, e.Tags...), tags)
	if err != nil {
		return nil, err
	}
	e.Tags = merged
	return nil, nil
}

func (k entityKind) untag(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	e.Tags = removeTags(e.Tags, parseMembers(c.params, "TagKeys"))
	return nil, nil
}

type tagList struct {
	Tags        []xTag `xml:"Tags>member"`
	IsTruncated bool
}

func (k entityKind) listTags(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	return tagList{Tags: e.Tags}, nil
}

func (k entityKind) putPolicy(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	name, err := policyName(c)
	if err != nil {
		return nil, err
	}
	doc := c.get("PolicyDocument")
	if err := s.checkPolicy(doc, identityPolicy); err != nil {
		return nil, err
	}
	e.Inline[name] = doc
	return nil, nil
}

type inlinePolicy struct {
	UserName       string `xml:",omitempty"`
	GroupName      string `xml:",omitempty"`
	RoleName       string `xml:",omitempty"`
	PolicyName     string
	PolicyDocument string
}

func (k entityKind) getPolicy(s *Server, c *call) (any, *apiError) {
	owner, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	name, err := policyName(c)
	if err != nil {
		return nil, err
	}
	doc, ok := e.Inline[name]
	if !ok {
		return nil, errNoSuchEntity("The %s policy with name %s cannot be found.", k.noun, name)
	}
	p := inlinePolicy{PolicyName: name, PolicyDocument: url.QueryEscape(doc)}
	switch k.noun {
	case "user":
		p.UserName = owner
	case "group":
		p.GroupName = owner
	default:
		p.RoleName = owner
	}
	return p, nil
}

type policyNames struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool
}

func (k entityKind) listPolicies(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	return policyNames{PolicyNames: sortedKeys(e.Inline)}, nil
}

func (k entityKind) deletePolicy(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	name, err := policyName(c)
	if err != nil {
		return nil, err
	}
	if _, ok := e.Inline[name]; !ok {
		return nil, errNoSuchEntity("The %s policy with name %s cannot be found.", k.noun, name)
	}
	delete(e.Inline, name)
	return nil, nil
}

func checkManagedARN(arn string) *apiError {
	if len(arn) < 20 {
		return errValidation("1 validation error detected: Value '%s' at 'policyArn' failed to satisfy constraint: Member must have length greater than or equal to 20", arn)
	}
	if _, ok := managedPolicies[arn]; !ok {
		return errNoSuchEntity("Policy %s does not exist or is not attachable.", arn)
	}
	return nil
}

func attach(list []string, arn string) []string {
	for _, a := range list {
		if a == arn {
			return list
		}
	}
	return append(list, arn)
}

func detach(list []string, arn string) ([]string, bool) {
	for i, a := range list {
		if a == arn {
			return append(list[:i:i], list[i+1:]...), true
		}
	}
	return list, false
}

type attachedList struct {
	AttachedPolicies []xAttachedPolicy `xml:"AttachedPolicies>member"`
	IsTruncated      bool
}

func attachedPolicies(arns []string) attachedList {
	var out attachedList
	for _, a := range arns {
		out.AttachedPolicies = append(out.AttachedPolicies, xAttachedPolicy{PolicyName: a[strings.LastIndex(a, "/")+1:], PolicyArn: a})
	}
	return out
}

func (k entityKind) attachPolicy(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	arn := c.get("PolicyArn")
	if err := checkManagedARN(arn); err != nil {
		return nil, err
	}
	e.Attached = attach(e.Attached, arn)
	return nil, nil
}

func (k entityKind) detachPolicy(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	var ok bool
	if e.Attached, ok = detach(e.Attached, c.get("PolicyArn")); !ok {
		return nil, errNoSuchEntity("Policy %s was not found.", c.get("PolicyArn"))
	}
	return nil, nil
}

func (k entityKind) listAttachedPolicies(s *Server, c *call) (any, *apiError) {
	_, e, err := k.find(s, c)
	if err != nil {
		return nil, err
	}
	return attachedPolicies(e.Attached), nil
}

// Access keys.

func (s *Server) userKeys(name string) []*accessKey {
	var out []*accessKey
	for _, k := range s.st.Keys {
		if k.User == name {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Serial < out[j].Serial
	})
	return out
}

func (s *Server) createAccessKey(c *call) (any, *apiError) {
	u, err := s.lookupUser(c, "iam:CreateAccessKey")
	if err != nil {
		return nil, err
	}
	if len(s.userKeys(u.Name)) >= maxAccessKeysPerUser {
		return nil, errLimitExceeded("Cannot exceed quota for AccessKeysPerUser: %d", maxAccessKeysPerUser)
	}
	s.st.Serial++
	k := &accessKey{ID: newID("AKIA", 16), Secret: newSecret(), User: u.Name, Status: "Active", Created: s.now(), Serial: s.st.Serial}
	s.st.Keys[k.ID] = k
	return struct{ AccessKey xAccessKey }{xAccessKey{UserName: u.Name, AccessKeyId: k.ID, Status: k.Status, SecretAccessKey: k.Secret, CreateDate: isoTime(k.Created)}}, nil
}

func (s *Server) listAccessKeys(c *call) (any, *apiError) {
	u, err := s.lookupUser(c, "iam:ListAccessKeys")
	if err != nil {
		return nil, err
	}
	var out []xAccessKey
	for _, k := range s.userKeys(u.Name) {
		out = append(out, xAccessKey{UserName: u.Name, AccessKeyId: k.ID, Status: k.Status, CreateDate: isoTime(k.Created)})
	}
	return struct {
		AccessKeyMetadata []xAccessKey `xml:"AccessKeyMetadata>member"`
		IsTruncated       bool
	}{out, false}, nil
}

func (s *Server) userKey(c *call, action string) (*accessKey, *apiError) {
	u, err := s.lookupUser(c, action)
	if err != nil {
		return nil, err
	}
	id := c.get("AccessKeyId")
	if len(id) < 16 || len(id) > 128 {
		return nil, errValidation("1 validation error detected: Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16", id)
	}
	k := s.st.Keys[id]
	if k == nil || k.User != u.Name {
		return nil, errNoSuchEntity("The Access Key with id %s cannot be found.", id)
	}
	return k, nil
}

func (s *Server) updateAccessKey(c *call) (any, *apiError) {
	k, err := s.userKey(c, "iam:UpdateAccessKey")
	if err != nil {
		return nil, err
	}
	switch st := c.get("Status"); st {
	case "Active", "Inactive":
		k.Status = st
	default:
		return nil, errValidation("1 validation error detected: Value '%s' at 'status' failed to satisfy constraint: Member must satisfy enum value set: [Active, Inactive]", st)
	}
	return nil, nil
}

func (s *Server) deleteAccessKey(c *call) (any, *apiError) {
	k, err := s.userKey(c, "iam:DeleteAccessKey")
	if err != nil {
		return nil, err
	}
	delete(s.st.Keys, k.ID)
	return nil, nil
}

func (s *Server) getAccessKeyLastUsed(c *call) (any, *apiError) {
	id := c.get("AccessKeyId")
	if len(id) < 16 || len(id) > 128 {
		return nil, errValidation("1 validation error detected: Value '%s' at 'accessKeyId' failed to satisfy constraint: Member must have length greater than or equal to 16", id)
	}
	k := s.st.Keys[id]
	resource := "arn:aws:iam::" + s.st.Account + ":user/*"
	if k != nil && s.st.Users[k.User] != nil {
		resource = s.userARN(s.st.Users[k.User])
	}
	if err := s.authorize(c, "iam:GetAccessKeyLastUsed", resource, nil); err != nil {
		return nil, err
	}
	if k == nil {
		return nil, errNoSuchEntity("The Access Key with id %s cannot be found.", id)
	}
	type lastUsed struct {
		LastUsedDate string `xml:",omitempty"`
		ServiceName  string
		Region       string
	}
	lu := lastUsed{ServiceName: "N/A", Region: "N/A"}
	if !k.LastUsed.IsZero() {
		lu = lastUsed{LastUsedDate: isoTime(k.LastUsed), ServiceName: k.LastService, Region: k.LastRegion}
	}
	return struct {
		UserName          string
		AccessKeyLastUsed lastUsed
	}{k.User, lu}, nil
}
