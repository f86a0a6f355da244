package aws

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// iamClient makes an IAM client; IAM is global, so a missing region
// defaults to us-east-1 for signing.
func iamClient(cfg awssdk.Config) *iam.Client {
	return iam.NewFromConfig(cfg, func(o *iam.Options) {
		if o.Region == "" {
			o.Region = "us-east-1"
		}
	})
}

func stsClient(cfg awssdk.Config) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if o.Region == "" {
			o.Region = "us-east-1"
		}
	})
}

// callerAccount returns the account of cfg's credentials, checking it
// against want when want is set.
func callerAccount(ctx context.Context, cfg awssdk.Config, want string) (string, error) {
	out, err := stsClient(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", classify("get caller identity", err)
	}
	account := awssdk.ToString(out.Account)
	if want != "" && account != want {
		return "", fmt.Errorf("aws: %w: the credentials are for account %s (%s), the spec names %s",
			ErrWrongAccount, account, awssdk.ToString(out.Arn), want)
	}
	return account, nil
}

// entity is what breakglass reads back about the user or the role.
type entity struct {
	arn        string
	path       string
	maxSession int32             // roles only
	trust      []byte            // roles only, decoded
	tags       map[string]string //
	inline     map[string][]byte // decoded documents by name
	attached   []string          // managed policy ARNs
	groups     []string          // users only: the groups it is in
}

// revokeState is what the user's and the role's RevokePolicyName policies
// say, as a revoke leaves them: the same deny on both.
type revokeState struct {
	user, role       time.Time // the cutoffs; zero when absent or not a revoke deny
	userBad, roleBad bool      // present, but not a document RevokePolicy wrote
}

func readRevokeState(user, role *entity) revokeState {
	var st revokeState
	side := func(e *entity, cutoff *time.Time, bad *bool) {
		if e == nil {
			return
		}
		if doc, ok := e.inline[RevokePolicyName]; ok {
			*cutoff, ok = RevokeCutoff(doc)
			*bad = !ok
		}
	}
	side(user, &st.user, &st.userBad)
	side(role, &st.role, &st.roleBad)
	return st
}

// latest is the later of the two cutoffs: what a repair puts on both.
func (st revokeState) latest() time.Time {
	if st.user.After(st.role) {
		return st.user
	}
	return st.role
}

// snapshot is the IAM state of one break-glass identity.
type snapshot struct {
	account string
	user    *entity // nil if absent
	role    *entity // nil if absent
	keys    []types.AccessKeyMetadata
}

// readAccount validates spec, checks that cfg's credentials are for its
// account, and reads the account's break-glass user and role.
func readAccount(ctx context.Context, cfg awssdk.Config, spec Spec) (*iam.Client, *snapshot, error) {
	if err := spec.Validate(); err != nil {
		return nil, nil, err
	}
	account, err := callerAccount(ctx, cfg, spec.AccountID)
	if err != nil {
		return nil, nil, err
	}
	c := iamClient(cfg)
	snap, err := readSnapshot(ctx, c, spec, account)
	if err != nil {
		return nil, nil, err
	}
	return c, snap, nil
}

func readSnapshot(ctx context.Context, c *iam.Client, spec Spec, account string) (*snapshot, error) {
	s := &snapshot{account: account}
	u, err := c.GetUser(ctx, &iam.GetUserInput{UserName: awssdk.String(spec.UserName())})
	switch {
	case errorCode(err) == "NoSuchEntity":
	case err != nil:
		return nil, classify("get user "+spec.UserName(), err)
	default:
		s.user = &entity{arn: awssdk.ToString(u.User.Arn), path: awssdk.ToString(u.User.Path)}
		if err := readUser(ctx, c, spec.UserName(), s); err != nil {
			return nil, err
		}
	}
	r, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(spec.RoleName())})
	switch {
	case errorCode(err) == "NoSuchEntity":
	case err != nil:
		return nil, classify("get role "+spec.RoleName(), err)
	default:
		trust, err := url.QueryUnescape(awssdk.ToString(r.Role.AssumeRolePolicyDocument))
		if err != nil {
			return nil, fmt.Errorf("aws: role %s: undecodable trust policy: %w", spec.RoleName(), err)
		}
		s.role = &entity{arn: awssdk.ToString(r.Role.Arn), path: awssdk.ToString(r.Role.Path),
			maxSession: awssdk.ToInt32(r.Role.MaxSessionDuration), trust: []byte(trust)}
		if err := readRole(ctx, c, spec.RoleName(), s.role); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func readUser(ctx context.Context, c *iam.Client, name string, s *snapshot) error {
	e := s.user
	e.tags = map[string]string{}
	tags := iam.NewListUserTagsPaginator(c, &iam.ListUserTagsInput{UserName: &name})
	for tags.HasMorePages() {
		page, err := tags.NextPage(ctx)
		if err != nil {
			return classify("list user tags", err)
		}
		for _, t := range page.Tags {
			e.tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
	}
	e.inline = map[string][]byte{}
	pols := iam.NewListUserPoliciesPaginator(c, &iam.ListUserPoliciesInput{UserName: &name})
	for pols.HasMorePages() {
		page, err := pols.NextPage(ctx)
		if err != nil {
			return classify("list user policies", err)
		}
		for _, p := range page.PolicyNames {
			out, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &name, PolicyName: awssdk.String(p)})
			if err != nil {
				return classify("get user policy "+p, err)
			}
			doc, err := url.QueryUnescape(awssdk.ToString(out.PolicyDocument))
			if err != nil {
				return fmt.Errorf("aws: user policy %s: undecodable document: %w", p, err)
			}
			e.inline[p] = []byte(doc)
		}
	}
	groups := iam.NewListGroupsForUserPaginator(c, &iam.ListGroupsForUserInput{UserName: &name})
	for groups.HasMorePages() {
		page, err := groups.NextPage(ctx)
		if err != nil {
			return classify("list groups for user", err)
		}
		for _, g := range page.Groups {
			e.groups = append(e.groups, awssdk.ToString(g.GroupName))
		}
	}
	att := iam.NewListAttachedUserPoliciesPaginator(c, &iam.ListAttachedUserPoliciesInput{UserName: &name})
	for att.HasMorePages() {
		page, err := att.NextPage(ctx)
		if err != nil {
			return classify("list attached user policies", err)
		}
		for _, p := range page.AttachedPolicies {
			e.attached = append(e.attached, awssdk.ToString(p.PolicyArn))
		}
	}
	keys := iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: &name})
	for keys.HasMorePages() {
		page, err := keys.NextPage(ctx)
		if err != nil {
			return classify("list access keys", err)
		}
		s.keys = append(s.keys, page.AccessKeyMetadata...)
	}
	return nil
}

func readRole(ctx context.Context, c *iam.Client, name string, e *entity) error {
	e.tags = map[string]string{}
	tags := iam.NewListRoleTagsPaginator(c, &iam.ListRoleTagsInput{RoleName: &name})
	for tags.HasMorePages() {
		page, err := tags.NextPage(ctx)
		if err != nil {
			return classify("list role tags", err)
		}
		for _, t := range page.Tags {
			e.tags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
	}
	e.inline = map[string][]byte{}
	pols := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: &name})
	for pols.HasMorePages() {
		page, err := pols.NextPage(ctx)
		if err != nil {
			return classify("list role policies", err)
		}
		for _, p := range page.PolicyNames {
			out, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &name, PolicyName: awssdk.String(p)})
			if err != nil {
				return classify("get role policy "+p, err)
			}
			doc, err := url.QueryUnescape(awssdk.ToString(out.PolicyDocument))
			if err != nil {
				return fmt.Errorf("aws: role policy %s: undecodable document: %w", p, err)
			}
			e.inline[p] = []byte(doc)
		}
	}
	att := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: &name})
	for att.HasMorePages() {
		page, err := att.NextPage(ctx)
		if err != nil {
			return classify("list attached role policies", err)
		}
		for _, p := range page.AttachedPolicies {
			e.attached = append(e.attached, awssdk.ToString(p.PolicyArn))
		}
	}
	return nil
}

// ownedBy checks that an existing entity is breakglass's own for spec.
func ownedBy(e *entity, kind, name string, spec Spec) error {
	switch {
	case e.tags[TagName] != spec.Name:
		return &ConflictError{Kind: kind, Name: name, ARN: e.arn, Reason: fmt.Sprintf("it has no %s=%s tag", TagName, spec.Name)}
	case e.path != Path:
		return &ConflictError{Kind: kind, Name: name, ARN: e.arn, Reason: "its path is not " + Path}
	}
	return nil
}

func samePolicy(a, b []byte) bool {
	ha, err1 := PolicyHash(a)
	hb, err2 := PolicyHash(b)
	return err1 == nil && err2 == nil && ha == hb
}

// tagDiff lists the tags in want that have is missing or different.
func tagDiff(want, have map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range sortedKeys(want) {
		if v, ok := have[k]; !ok || v != want[k] {
			out = append(out, types.Tag{Key: awssdk.String(k), Value: awssdk.String(want[k])})
		}
	}
	return out
}

func tagList(m map[string]string) []types.Tag {
	return tagDiff(m, nil)
}

// Step is one change Provision will make, described for the plan.
type Step struct {
	Do     string // e.g. "create user breakglass-prod"
	Target string // ARN
	apply  func(context.Context) error
}

// Plan is what Provision would change, computed from the account's
// current state without changing anything.
type Plan struct {
	Account string
	UserARN string
	RoleARN string
	Steps   []Step   // empty: already as specified
	Notes   []string // things worth knowing that need no change
	// PolicyHashes are the SHA-256 hashes (PolicyHash) of the documents as
	// provisioned, by role: "user", "trust" and, for inline role
	// permissions, "role".
	PolicyHashes  map[string]string
	RolePolicyARN string // the attached permissions policy, if any
	// AlertRuleARN and AlertTopicARN name the alert path, when the spec
	// has alerts; PolicyHashes["alert-pattern"] is its pattern's hash.
	AlertRuleARN  string
	AlertTopicARN string
	// ExistingKeyIDs are the user's access keys already in IAM.
	ExistingKeyIDs []string

	spec      Spec
	client    *iam.Client
	createKey bool
	now       time.Time
}

// Result is what Provision did.
type Result struct {
	*Plan
	// AccessKey is the access key created for the user, or nil when the
	// user already had one. Seal it at once, then call Wipe.
	AccessKey *Credentials
}

// PlanProvision reads the account and returns the steps that would make
// it match spec. A user or role of the same name that breakglass did not
// provision is a *ConflictError.
func PlanProvision(ctx context.Context, cfg awssdk.Config, spec Spec) (*Plan, error) {
	c, snap, err := readAccount(ctx, cfg, spec)
	if err != nil {
		return nil, err
	}
	account := snap.account
	p := &Plan{
		Account: account, UserARN: spec.UserARN(account), RoleARN: spec.RoleARN(account),
		RolePolicyARN: spec.RolePolicyARN, spec: spec, client: c, now: time.Now().UTC(),
		PolicyHashes: map[string]string{},
	}
	userDoc, trustDoc := spec.UserPolicy(account), spec.TrustPolicy(account)
	p.PolicyHashes["user"], _ = PolicyHash(userDoc)
	p.PolicyHashes["trust"], _ = PolicyHash(trustDoc)
	if len(spec.RolePolicy) > 0 {
		p.PolicyHashes["role"], _ = PolicyHash(spec.RolePolicy)
	}
	userName, roleName := spec.UserName(), spec.RoleName()
	tags := spec.Tags()

	// The user.
	if snap.user == nil {
		all := map[string]string{TagProvisioned: p.now.Format(time.RFC3339)}
		for k, v := range tags {
			all[k] = v
		}
		p.add("create user "+userName+" under "+Path, p.UserARN, func(ctx context.Context) error {
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &userName, Path: awssdk.String(Path), Tags: tagList(all)})
			return classify("create user", err)
		})
	} else {
		if err := ownedBy(snap.user, "user", userName, spec); err != nil {
			return nil, err
		}
		if diff := tagDiff(tags, snap.user.tags); len(diff) > 0 {
			p.add(fmt.Sprintf("tag user %s (%s)", userName, tagKeys(diff)), p.UserARN, func(ctx context.Context) error {
				_, err := c.TagUser(ctx, &iam.TagUserInput{UserName: &userName, Tags: diff})
				return classify("tag user", err)
			})
		}
	}

	// The role.
	maxSession := int32(spec.maxSession() / time.Second)
	if snap.role == nil {
		all := map[string]string{TagProvisioned: p.now.Format(time.RFC3339)}
		for k, v := range tags {
			all[k] = v
		}
		p.add(fmt.Sprintf("create role %s (trusting only %s, sessions of at most %s)", roleName, userName, spec.maxSession()), p.RoleARN, func(ctx context.Context) error {
			_, err := c.CreateRole(ctx, &iam.CreateRoleInput{
				RoleName: &roleName, Path: awssdk.String(Path), AssumeRolePolicyDocument: awssdk.String(string(trustDoc)),
				MaxSessionDuration: &maxSession, Tags: tagList(all),
				Description: awssdk.String("break-glass emergency access for " + spec.Name + ", owned by " + spec.Owner),
			})
			return classify("create role", err)
		})
	} else {
		if err := ownedBy(snap.role, "role", roleName, spec); err != nil {
			return nil, err
		}
		if !samePolicy(snap.role.trust, trustDoc) {
			p.add("replace the trust policy of role "+roleName, p.RoleARN, func(ctx context.Context) error {
				_, err := c.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: &roleName, PolicyDocument: awssdk.String(string(trustDoc))})
				return classify("update trust policy", err)
			})
		}
		if snap.role.maxSession != maxSession {
			p.add(fmt.Sprintf("set the maximum session of role %s to %s", roleName, spec.maxSession()), p.RoleARN, func(ctx context.Context) error {
				_, err := c.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: &roleName, MaxSessionDuration: &maxSession})
				return classify("update role", err)
			})
		}
		if diff := tagDiff(tags, snap.role.tags); len(diff) > 0 {
			p.add(fmt.Sprintf("tag role %s (%s)", roleName, tagKeys(diff)), p.RoleARN, func(ctx context.Context) error {
				_, err := c.TagRole(ctx, &iam.TagRoleInput{RoleName: &roleName, Tags: diff})
				return classify("tag role", err)
			})
		}
	}

	// The role's permissions: exactly what the spec says, plus the
	// revocation deny if a revoke put one there.
	role := snap.role
	if role == nil {
		role = &entity{inline: map[string][]byte{}}
	}
	for _, arn := range role.attached {
		if arn != spec.RolePolicyARN {
			arn := arn
			p.add("detach policy "+arn+" from role "+roleName, p.RoleARN, func(ctx context.Context) error {
				_, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: &roleName, PolicyArn: &arn})
				return classify("detach role policy", err)
			})
		}
	}
	revoked := readRevokeState(snap.user, snap.role)
	for _, name := range sortedKeys(docNames(role.inline)) {
		if (name != RevokePolicyName || revoked.roleBad) && (name != RolePolicyName || len(spec.RolePolicy) == 0) {
			name := name
			p.add("delete inline policy "+name+" from role "+roleName, p.RoleARN, func(ctx context.Context) error {
				_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &roleName, PolicyName: &name})
				return classify("delete role policy", err)
			})
		}
	}
	if spec.RolePolicyARN != "" && !contains(role.attached, spec.RolePolicyARN) {
		p.add("attach "+spec.RolePolicyARN+" to role "+roleName, p.RoleARN, func(ctx context.Context) error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &roleName, PolicyArn: awssdk.String(spec.RolePolicyARN)})
			return classify("attach role policy", err)
		})
	}
	if len(spec.RolePolicy) > 0 && !samePolicy(role.inline[RolePolicyName], spec.RolePolicy) {
		doc := string(spec.RolePolicy)
		p.add("put inline permissions "+RolePolicyName+" on role "+roleName, p.RoleARN, func(ctx context.Context) error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &roleName, PolicyName: awssdk.String(RolePolicyName), PolicyDocument: &doc})
			return classify("put role policy", err)
		})
	}

	// The user's only permission.
	user := snap.user
	if user == nil {
		user = &entity{inline: map[string][]byte{}}
	}
	for _, g := range user.groups {
		g := g
		p.add("remove user "+userName+" from group "+g+" (the group's policies apply to the user)", p.UserARN, func(ctx context.Context) error {
			_, err := c.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{UserName: &userName, GroupName: &g})
			return classify("remove user from group", err)
		})
	}
	for _, arn := range user.attached {
		arn := arn
		p.add("detach policy "+arn+" from user "+userName, p.UserARN, func(ctx context.Context) error {
			_, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: &userName, PolicyArn: &arn})
			return classify("detach user policy", err)
		})
	}
	for _, name := range sortedKeys(docNames(user.inline)) {
		if name != UserPolicyName && (name != RevokePolicyName || revoked.userBad) {
			name := name
			p.add("delete inline policy "+name+" from user "+userName, p.UserARN, func(ctx context.Context) error {
				_, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &userName, PolicyName: &name})
				return classify("delete user policy", err)
			})
		}
	}
	if !samePolicy(user.inline[UserPolicyName], userDoc) {
		p.add("put inline policy "+UserPolicyName+" on user "+userName+" (sts:AssumeRole on the role only, with a source identity)", p.UserARN, func(ctx context.Context) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &userName, PolicyName: awssdk.String(UserPolicyName), PolicyDocument: awssdk.String(string(userDoc))})
			return classify("put user policy", err)
		})
	}

	// A revoke's deny of older sessions stays, the same on the user and
	// the role: where one side lacks it (a revoke that stopped half-way,
	// or one by a breakglass that denied on the role only) or has an
	// earlier cutoff, the later cutoff goes on both.
	if cutoff := revoked.latest(); !cutoff.IsZero() {
		doc := string(RevokePolicy(cutoff))
		when := cutoff.Format(time.RFC3339)
		if !revoked.user.Equal(cutoff) {
			p.add("put "+RevokePolicyName+" on user "+userName+" (deny its session tokens issued before "+when+", as a revoke does)", p.UserARN, func(ctx context.Context) error {
				_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &userName, PolicyName: awssdk.String(RevokePolicyName), PolicyDocument: &doc})
				return classify("put user policy", err)
			})
		}
		if !revoked.role.Equal(cutoff) {
			p.add("put "+RevokePolicyName+" on role "+roleName+" (deny its sessions issued before "+when+", as a revoke does)", p.RoleARN, func(ctx context.Context) error {
				_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &roleName, PolicyName: awssdk.String(RevokePolicyName), PolicyDocument: &doc})
				return classify("put role policy", err)
			})
		}
		if revoked.user.Equal(revoked.role) {
			p.Notes = append(p.Notes, "user "+userName+" and role "+roleName+" deny sessions issued before "+when+" ("+RevokePolicyName+", from an earlier revoke); kept")
		}
	}

	// The alert, before the key: its first use is loud.
	if err := p.planAlert(ctx, cfg, spec); err != nil {
		return nil, err
	}

	// The access key.
	for _, k := range snap.keys {
		p.ExistingKeyIDs = append(p.ExistingKeyIDs, awssdk.ToString(k.AccessKeyId))
	}
	switch len(snap.keys) {
	case 0:
		p.createKey = true
		p.add("create an access key for "+userName+" (handed to the caller for sealing, never shown)", p.UserARN, nil)
	case 1:
		p.Notes = append(p.Notes, "user "+userName+" already has access key "+p.ExistingKeyIDs[0]+"; no new key is created (use revoke or rotate to replace it)")
	default:
		p.Notes = append(p.Notes, fmt.Sprintf("user %s has %d access keys (%s); no new key is created; run check, then revoke the ones that are not sealed",
			userName, len(snap.keys), strings.Join(p.ExistingKeyIDs, ", ")))
	}
	return p, nil
}

func (p *Plan) add(do, target string, apply func(context.Context) error) {
	p.Steps = append(p.Steps, Step{Do: do, Target: target, apply: apply})
}

// Apply makes the planned changes in order and returns the result. On
// error, the steps before the failing one have been applied; planning and
// applying again resumes where it stopped.
func (p *Plan) Apply(ctx context.Context) (*Result, error) {
	res := &Result{Plan: p}
	for _, s := range p.Steps {
		if s.apply == nil {
			continue
		}
		if err := s.apply(ctx); err != nil {
			return nil, err
		}
	}
	if p.createKey {
		k, err := createKey(ctx, p.client, p.spec.UserName())
		if err != nil {
			return nil, err
		}
		res.AccessKey = k
	}
	return res, nil
}

// Provision plans and applies in one go.
func Provision(ctx context.Context, cfg awssdk.Config, spec Spec) (*Result, error) {
	p, err := PlanProvision(ctx, cfg, spec)
	if err != nil {
		return nil, err
	}
	return p.Apply(ctx)
}

func createKey(ctx context.Context, c *iam.Client, user string) (*Credentials, error) {
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &user})
	if err != nil {
		return nil, classify("create access key", err)
	}
	return &Credentials{
		AccessKeyID:     awssdk.ToString(out.AccessKey.AccessKeyId),
		SecretAccessKey: []byte(awssdk.ToString(out.AccessKey.SecretAccessKey)),
	}, nil
}

func docNames(m map[string][]byte) map[string]string {
	out := make(map[string]string, len(m))
	for k := range m {
		out[k] = ""
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func tagKeys(tags []types.Tag) string {
	var keys []string
	for _, t := range tags {
		keys = append(keys, awssdk.ToString(t.Key))
	}
	return strings.Join(keys, ", ")
}
