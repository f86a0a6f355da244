package awstest

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file implements STS (AssumeRole, GetSessionToken,
// GetCallerIdentity) and the console federation endpoint.

var stsHandlers = map[string]handler{
	"AssumeRole":        (*Server).assumeRole,
	"GetSessionToken":   (*Server).getSessionToken,
	"GetCallerIdentity": (*Server).getCallerIdentity,
}

const (
	minSessionSeconds     = 900
	maxSessionSeconds     = 43200
	chainedSessionSeconds = 3600
	signinTokenLifetime   = 15 * time.Minute

	// GetSessionToken: 15 minutes to 36 hours for IAM users, 12 hours by
	// default; the root's session tokens last at most (and by default)
	// one hour.
	maxSessionTokenSeconds     = 129600
	defaultSessionTokenSeconds = 43200
	rootSessionTokenSeconds    = 3600
)

// GetCallerIdentity needs no permission, as in AWS: even an explicit deny
// does not stop it.
func (s *Server) getCallerIdentity(c *call) (any, *apiError) {
	return struct {
		UserId  string
		Account string
		Arn     string
	}{c.caller.id, s.st.Account, c.caller.arn}, nil
}

func (s *Server) assumeRole(c *call) (any, *apiError) {
	roleARN := c.get("RoleArn")
	if len(roleARN) < 20 || len(roleARN) > 2048 {
		return nil, errValidation("1 validation error detected: Value '%s' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20", roleARN)
	}
	name := c.get("RoleSessionName")
	if len(name) < 2 || len(name) > 64 || !nameRE.MatchString(name) {
		return nil, errValidation("1 validation error detected: Value '%s' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64", name)
	}
	_, hasSI := c.params["SourceIdentity"]
	sourceIdentity := c.get("SourceIdentity")
	if hasSI && (len(sourceIdentity) < 2 || len(sourceIdentity) > 64 || !nameRE.MatchString(sourceIdentity) ||
		strings.HasPrefix(strings.ToLower(sourceIdentity), "aws:")) {
		return nil, errValidation("1 validation error detected: Value '%s' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]* and have length between 2 and 64", sourceIdentity)
	}
	duration := 3600
	if v := c.get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < minSessionSeconds || n > maxSessionSeconds {
			return nil, errValidation("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between %d and %d", v, minSessionSeconds, maxSessionSeconds)
		}
		duration = n
	}
	// A session policy (at most 2048 characters, as AWS packs it) limits
	// what the session may do.
	_, hasPolicy := c.params["Policy"]
	sessionPolicy := c.get("Policy")
	if hasPolicy {
		if len(sessionPolicy) < 1 || len(sessionPolicy) > 2048 {
			return nil, errValidation("1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048")
		}
		if _, err := parsePolicy(sessionPolicy, identityPolicy); err != nil {
			return nil, errMalformedPolicy(err.Error())
		}
	}
	caller := c.caller
	if caller.kind == "root" {
		return nil, errAccessDenied("Roles may not be assumed by root accounts.")
	}
	// A session token (GetSessionToken) acts as its user, with the user's
	// policies and the token's issue time as aws:TokenIssueTime; assuming
	// a role with it is not role chaining.
	// A source identity, once set, carries through role chaining and
	// cannot be changed.
	if caller.session != nil && caller.session.SourceIdentity != "" {
		if hasSI && sourceIdentity != caller.session.SourceIdentity {
			return nil, errAccessDenied("User: %s is not authorized to change the source identity %s", caller.arn, caller.session.SourceIdentity)
		}
		sourceIdentity, hasSI = caller.session.SourceIdentity, true
	}
	denied := errAccessDenied("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.arn, roleARN)

	var r *role
	for _, cand := range s.st.Roles {
		if s.roleARN(cand) == roleARN {
			r = cand
		}
	}
	if r == nil {
		return nil, denied
	}
	extra := map[string]string{}
	if hasSI {
		extra["sts:sourceidentity"] = sourceIdentity
	}
	actions := []string{"sts:AssumeRole"}
	if hasSI {
		actions = append(actions, "sts:SetSourceIdentity")
	}
	// Both the caller's identity policies and the role's trust policy
	// must allow every action.
	for _, action := range actions {
		if err := s.authorize(c, action, roleARN, extra); err != nil {
			return nil, err
		}
		trust, err := parsePolicy(r.Trust, trustPolicy)
		if err != nil {
			return nil, denied
		}
		ctx := s.callerContext(caller)
		for k, v := range extra {
			ctx[k] = v
		}
		req := request{Principal: caller.arn, Account: s.st.Account, Action: action, Resource: roleARN, Context: ctx}
		ok := evaluate([]*policyDoc{trust}, req, true) == allowed
		if !ok && caller.assumedRole() {
			// Trust policies may name the caller's role rather than the session.
			req.Principal = "arn:aws:iam::" + s.st.Account + ":role/" + caller.session.Role
			if cr := s.st.Roles[caller.session.Role]; cr != nil {
				req.Principal = s.roleARN(cr)
			}
			ok = evaluate([]*policyDoc{trust}, req, true) == allowed
		}
		if !ok {
			return nil, errAccessDenied("User: %s is not authorized to perform: %s on resource: %s", caller.arn, action, roleARN)
		}
	}
	chained := caller.assumedRole()
	if chained && duration > chainedSessionSeconds {
		return nil, errValidation("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
	}
	if duration > r.MaxSession {
		return nil, errValidation("The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
	}
	now := s.now()
	ss := &session{
		ID:             newID("ASIA", 16),
		Secret:         newSecret(),
		Token:          "IQoJb3JpZ2luX2VjE" + randomString(300),
		Role:           r.Name,
		Name:           name,
		SourceIdentity: sourceIdentity,
		Issued:         now,
		Expires:        now.Add(time.Duration(duration) * time.Second),
		Chained:        chained,
		Policy:         sessionPolicy,
	}
	s.st.Sessions[ss.ID] = ss
	s.expireOldSessions(now)
	elems := trailCredentials(ss, map[string]any{
		"assumedRoleUser": map[string]string{"assumedRoleId": r.ID + ":" + name, "arn": s.sessionARN(ss)},
	})
	if ss.SourceIdentity != "" {
		elems["sourceIdentity"] = ss.SourceIdentity
	}
	c.responseElements = elems
	c.resources = []trailResource{{"AWS::IAM::AccessKey", ss.ID}, {"AWS::STS::AssumedRole", name}, {"AWS::IAM::Role", roleARN}}
	return struct {
		Credentials     xCredentials
		AssumedRoleUser xAssumedRoleUser
		SourceIdentity  string `xml:",omitempty"`
	}{
		Credentials:     xCredentials{AccessKeyId: ss.ID, SecretAccessKey: ss.Secret, SessionToken: ss.Token, Expiration: isoTime(ss.Expires)},
		AssumedRoleUser: xAssumedRoleUser{AssumedRoleId: r.ID + ":" + name, Arn: s.sessionARN(ss)},
		SourceIdentity:  ss.SourceIdentity,
	}, nil
}

// getSessionToken issues a session token that acts as the caller, an IAM
// user or the root, with the caller's policies. As in AWS it needs no
// permission (policies cannot stop it), must be called with long-term
// keys, and the token outlives the key that made it: deleting or
// deactivating the key does not end it. Only a deny on the user with an
// aws:TokenIssueTime condition, or deleting the user, does. The server has
// no MFA devices, so SerialNumber and TokenCode always fail.
func (s *Server) getSessionToken(c *call) (any, *apiError) {
	duration := defaultSessionTokenSeconds
	if v := c.get("DurationSeconds"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < minSessionSeconds:
			return nil, errValidation("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to %d", v, minSessionSeconds)
		case n > maxSessionTokenSeconds:
			return nil, errValidation("1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to %d", v, maxSessionTokenSeconds)
		}
		duration = n
	}
	serial, hasSerial := c.params["SerialNumber"]
	code, hasCode := c.params["TokenCode"]
	if hasSerial && (len(serial[0]) < 9 || len(serial[0]) > 256) {
		return nil, errValidation("1 validation error detected: Value '%s' at 'serialNumber' failed to satisfy constraint: Member must have length greater than or equal to 9", serial[0])
	}
	if hasCode && (len(code[0]) != 6 || strings.Trim(code[0], "0123456789") != "") {
		return nil, errValidation("1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\d]*")
	}
	caller := c.caller
	if caller.session != nil {
		return nil, errAccessDenied("Cannot call GetSessionToken with session credentials")
	}
	if hasSerial || hasCode {
		return nil, errAccessDenied("MultiFactorAuthentication failed, unable to validate MFA code.")
	}
	if caller.kind == "root" {
		duration = min(duration, rootSessionTokenSeconds)
	}
	now := s.now()
	ss := &session{
		ID:      newID("ASIA", 16),
		Secret:  newSecret(),
		Token:   "IQoJb3JpZ2luX2VjE" + randomString(300),
		Root:    caller.kind == "root",
		Issued:  now,
		Expires: now.Add(time.Duration(duration) * time.Second),
	}
	if caller.user != nil {
		ss.User, ss.UserID = caller.user.Name, caller.user.ID
	}
	s.st.Sessions[ss.ID] = ss
	s.expireOldSessions(now)
	c.responseElements = trailCredentials(ss, map[string]any{})
	c.resources = []trailResource{{"AWS::IAM::AccessKey", ss.ID}}
	return struct{ Credentials xCredentials }{
		xCredentials{AccessKeyId: ss.ID, SecretAccessKey: ss.Secret, SessionToken: ss.Token, Expiration: isoTime(ss.Expires)},
	}, nil
}

// trailCredentials adds a new session's credentials to CloudTrail's
// responseElements: the access key id and the expiration, in CloudTrail's
// own date format. (CloudTrail also writes the session token; the server
// leaves it out of its record.)
func trailCredentials(ss *session, elems map[string]any) map[string]any {
	elems["credentials"] = map[string]string{"accessKeyId": ss.ID, "expiration": ss.Expires.UTC().Format("Jan 2, 2006, 3:04:05 PM")}
	return elems
}

// expireOldSessions forgets sessions that expired more than a day ago, so
// a long-running rehearsal server does not grow without bound. Recently
// expired sessions are kept so that they fail with ExpiredToken.
func (s *Server) expireOldSessions(now time.Time) {
	for id, ss := range s.st.Sessions {
		if now.Sub(ss.Expires) > 24*time.Hour {
			delete(s.st.Sessions, id)
		}
	}
	for tok, si := range s.st.Signins {
		if now.After(si.Expires) {
			delete(s.st.Signins, tok)
		}
	}
}

// federationSession is the Session parameter of getSigninToken.
type federationSession struct {
	SessionID    string `json:"sessionId"`
	SessionKey   string `json:"sessionKey"`
	SessionToken string `json:"sessionToken"`
}

// serveFederation implements the console federation endpoint:
// Action=getSigninToken exchanges session credentials for a sign-in
// token; Action=login redeems it and redirects to the console page.
func (s *Server) serveFederation(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.persist()
	now := s.now()
	switch r.Form.Get("Action") {
	case "getSigninToken":
		var fs federationSession
		if err := json.Unmarshal([]byte(r.Form.Get("Session")), &fs); err != nil {
			http.Error(w, "Session is not the JSON of sessionId, sessionKey and sessionToken", http.StatusBadRequest)
			return
		}
		ss := s.st.Sessions[fs.SessionID]
		// Session tokens (GetSessionToken) cannot sign in to the console.
		if ss == nil || ss.Role == "" || ss.Secret != fs.SessionKey || ss.Token != fs.SessionToken {
			s.logf("awstest: federation getSigninToken: invalid credentials")
			http.Error(w, "The security token included in the request is invalid", http.StatusBadRequest)
			return
		}
		if !now.Before(ss.Expires) {
			http.Error(w, "The security token included in the request is expired", http.StatusBadRequest)
			return
		}
		if ss.Chained && r.Form.Get("SessionDuration") != "" {
			http.Error(w, "SessionDuration is not allowed for role-chained sessions", http.StatusBadRequest)
			return
		}
		tok := randomString(64)
		s.st.Signins[tok] = &signin{Session: ss.ID, Expires: now.Add(signinTokenLifetime)}
		s.logf("awstest: federation getSigninToken for %s: ok", s.sessionARN(ss))
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"SigninToken": tok})
	case "login":
		si := s.st.Signins[r.Form.Get("SigninToken")]
		if si == nil || now.After(si.Expires) {
			http.Error(w, "The sign-in token is invalid or expired", http.StatusBadRequest)
			return
		}
		ss := s.st.Sessions[si.Session]
		if ss == nil || !now.Before(ss.Expires) {
			http.Error(w, "The session behind the sign-in token has expired", http.StatusBadRequest)
			return
		}
		delete(s.st.Signins, r.Form.Get("SigninToken"))
		q := url.Values{"arn": {s.sessionARN(ss)}, "destination": {r.Form.Get("Destination")}}
		http.Redirect(w, r, "/console?"+q.Encode(), http.StatusFound)
	default:
		http.Error(w, "unknown federation Action", http.StatusBadRequest)
	}
}

// serveConsole stands in for the AWS console landing page.
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><title>awstest console</title><p>Signed in as %s.<p>A real console would now open %s.\n",
		html.EscapeString(r.URL.Query().Get("arn")), html.EscapeString(r.URL.Query().Get("destination")))
}
