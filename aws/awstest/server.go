package awstest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultAccountID is the account the server pretends to be unless
// Options.AccountID says otherwise.
const DefaultAccountID = "123456789012"

// Options configure a Server. The zero value is a fresh in-memory account
// on an ephemeral loopback port.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// AccountID is the 12-digit account id; default DefaultAccountID.
	AccountID string
	// StatePath, if set, is a JSON file the state is loaded from at start
	// (when it exists) and saved to after every request. It holds secret
	// keys and is written with mode 0600.
	StatePath string
	// Now is the server's clock for sessions, key ages and last-used
	// times; default time.Now. Signature freshness is always checked
	// against the real clock, because real clients sign with it.
	Now func() time.Time
	// Logf, if set, receives one line per request: action, caller, result.
	// It never receives secrets.
	Logf func(format string, args ...any)
}

// Credentials are an access key pair, and for sessions a token.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Server is a loopback IAM and STS endpoint for one account.
type Server struct {
	opts     Options
	ln       net.Listener
	http     *http.Server
	realNow  func() time.Time
	stateErr error // last persistence failure, reported by Close

	mu     sync.Mutex
	st     *state
	offset time.Duration
	// signingSkew moves the clock signatures are checked against (real
	// time otherwise), so that tests can expire presigned requests.
	signingSkew time.Duration
	faults      map[string]*fault
	calls       map[string]int
}

type fault struct {
	code string
	n    int
}

// state is everything the account holds; it is what StatePath persists.
type state struct {
	Account  string                `json:"account"`
	Admin    Credentials           `json:"admin"`
	Users    map[string]*user      `json:"users"`
	Groups   map[string]*group     `json:"groups"`
	Roles    map[string]*role      `json:"roles"`
	Keys     map[string]*accessKey `json:"keys"`
	Sessions map[string]*session   `json:"sessions"`
	Signins  map[string]*signin    `json:"signins"`
	Serial   int                   `json:"serial"` // orders access keys by creation

	// SNS, EventBridge and CloudTrail.
	Topics        map[string]*topic        `json:"topics,omitempty"`        // by ARN
	Subscriptions map[string]*subscription `json:"subscriptions,omitempty"` // by ARN
	Deliveries    []Delivery               `json:"deliveries,omitempty"`    // oldest first, at most maxDeliveries
	Rules         map[string]*rule         `json:"rules,omitempty"`         // by ARN
	Events        []*trailEvent            `json:"events,omitempty"`        // oldest first, at most maxEvents
	TrailBuckets  map[string]*trailBucket  `json:"trailBuckets,omitempty"`  // S3 buckets trails deliver to, by name
}

type user struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	entity
}

// group is an IAM group: its policies apply to its members.
type group struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Members []string  `json:"members"` // user names, in the order added
	entity
}

type role struct {
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	ID          string    `json:"id"`
	Description string    `json:"description"`
	Created     time.Time `json:"created"`
	Trust       string    `json:"trust"`
	MaxSession  int       `json:"maxSession"`
	entity
}

// entity is what users and roles have alike: tags, inline policies by
// name, and the ARNs of attached managed policies. It is embedded
// untagged, so its fields stay at the top level of the saved state.
type entity struct {
	Tags     []xTag            `json:"tags"`
	Inline   map[string]string `json:"inline"`
	Attached []string          `json:"attached"`
}

type accessKey struct {
	ID          string    `json:"id"`
	Secret      string    `json:"secret"`
	User        string    `json:"user"`
	Status      string    `json:"status"`
	Serial      int       `json:"serial"`
	Created     time.Time `json:"created"`
	LastUsed    time.Time `json:"lastUsed"`
	LastService string    `json:"lastService"`
	LastRegion  string    `json:"lastRegion"`
}

// session is a set of temporary credentials: a role session from
// AssumeRole (Role and Name set), or a session token from GetSessionToken
// (User and UserID set, or Root), which acts as the user (or the root)
// with the user's policies.
type session struct {
	ID             string    `json:"id"`
	Secret         string    `json:"secret"`
	Token          string    `json:"token"`
	Role           string    `json:"role,omitempty"`
	Name           string    `json:"name,omitempty"`
	User           string    `json:"user,omitempty"`
	UserID         string    `json:"userId,omitempty"`
	Root           bool      `json:"root,omitempty"`
	SourceIdentity string    `json:"sourceIdentity"`
	Issued         time.Time `json:"issued"`
	Expires        time.Time `json:"expires"`
	Chained        bool      `json:"chained"`
	// Policy is the session policy AssumeRole was given: the session may
	// do only what both it and the role's policies allow.
	Policy string `json:"policy,omitempty"`
}

type signin struct {
	Session string    `json:"session"`
	Expires time.Time `json:"expires"`
}

// NewServer starts a server. Close it when done.
func NewServer(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if len(opts.AccountID) != 12 || strings.Trim(opts.AccountID, "0123456789") != "" {
		return nil, fmt.Errorf("awstest: account id %q is not 12 digits", opts.AccountID)
	}
	s := &Server{
		opts:    opts,
		realNow: time.Now,
		faults:  map[string]*fault{},
		calls:   map[string]int{},
	}
	if opts.StatePath != "" {
		st, err := loadState(opts.StatePath)
		if err != nil {
			return nil, err
		}
		s.st = st
	}
	if s.st == nil {
		s.st = &state{
			Account: opts.AccountID,
			Admin:   Credentials{AccessKeyID: newID("AKIA", 16), SecretAccessKey: newSecret()},
		}
	}
	s.st.init()
	if opts.StatePath != "" {
		if err := s.save(); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("awstest: %w", err)
	}
	s.ln = ln
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return s, nil
}

func (st *state) init() {
	if st.Users == nil {
		st.Users = map[string]*user{}
	}
	if st.Groups == nil {
		st.Groups = map[string]*group{}
	}
	if st.Roles == nil {
		st.Roles = map[string]*role{}
	}
	if st.Keys == nil {
		st.Keys = map[string]*accessKey{}
	}
	if st.Sessions == nil {
		st.Sessions = map[string]*session{}
	}
	if st.Signins == nil {
		st.Signins = map[string]*signin{}
	}
	if st.Topics == nil {
		st.Topics = map[string]*topic{}
	}
	if st.Subscriptions == nil {
		st.Subscriptions = map[string]*subscription{}
	}
	if st.Rules == nil {
		st.Rules = map[string]*rule{}
	}
}

func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("awstest: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("awstest: state file %s: %w", path, err)
	}
	if st.Admin.AccessKeyID == "" || st.Account == "" {
		return nil, fmt.Errorf("awstest: state file %s has no account or admin key", path)
	}
	return &st, nil
}

// save writes the state file crash-safely: write, fsync, rename.
// Callers hold s.mu (or own s exclusively).
func (s *Server) save() error {
	b, err := json.MarshalIndent(s.st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.opts.StatePath)
	f, err := os.CreateTemp(dir, ".awstest-state-*")
	if err != nil {
		return fmt.Errorf("awstest: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("awstest: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("awstest: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("awstest: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("awstest: %w", err)
	}
	if err := os.Rename(f.Name(), s.opts.StatePath); err != nil {
		return fmt.Errorf("awstest: %w", err)
	}
	return nil
}

// URL is the endpoint to give SDK clients as BaseEndpoint, e.g.
// "http://127.0.0.1:40123". The federation endpoint is URL()+"/federation".
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// FederationURL is the console federation endpoint.
func (s *Server) FederationURL() string { return s.URL() + "/federation" }

// AccountID is the account the server serves.
func (s *Server) AccountID() string { return s.st.Account }

// AdminCredentials are the account root's access key: allowed everything
// except AssumeRole (root may not assume roles, as in AWS).
func (s *Server) AdminCredentials() Credentials { return s.st.Admin }

// Close stops the server. It reports the last state-saving failure.
func (s *Server) Close() error {
	err := s.http.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stateErr != nil {
		return s.stateErr
	}
	return err
}

// WriteCredentialsFile writes the admin credentials in the shared
// credentials file format (profile "default"), mode 0600.
func (s *Server) WriteCredentialsFile(path string) error {
	c := s.AdminCredentials()
	text := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", c.AccessKeyID, c.SecretAccessKey)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("awstest: %w", err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("awstest: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return fmt.Errorf("awstest: %w", err)
	}
	return f.Close()
}

// FailNext makes the next n calls of action (e.g. "AssumeRole") fail with
// the AWS error code (e.g. "Throttling", "ServiceUnavailable") before
// doing anything. n <= 0 clears the fault.
func (s *Server) FailNext(action, code string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.faults, action)
		return
	}
	s.faults[action] = &fault{code: code, n: n}
}

// Calls reports how many requests for action reached the server
// (including failed and retried ones).
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// Advance moves the server's clock forward by d, to expire sessions and
// age keys in tests.
func (s *Server) Advance(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.offset += d
}

// AdvanceSigningClock moves the clock that signatures are checked
// against forward by d. Signatures are otherwise checked against real
// time, because real clients sign with it; tests use this to let a
// presigned request expire without waiting.
func (s *Server) AdvanceSigningClock(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signingSkew += d
}

// Now is the server's clock.
func (s *Server) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

func (s *Server) now() time.Time {
	n := time.Now
	if s.opts.Now != nil {
		n = s.opts.Now
	}
	return n().Add(s.offset).UTC().Truncate(time.Second)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// principal is an authenticated caller.
type principal struct {
	kind    string // "root", "user" or "assumed-role"
	arn     string
	id      string // UserId as GetCallerIdentity reports it
	user    *user
	session *session   // the temporary credentials used, if any
	key     *accessKey // the long-term key used, if any
}

// assumedRole reports whether p calls with a role session, as opposed to
// long-term keys or a session token of a user or the root.
func (p *principal) assumedRole() bool { return p.kind == "assumed-role" }

// call is one parsed request.
type call struct {
	r      *http.Request
	params url.Values // query protocol: the form body and the URL's query
	body   []byte     // JSON protocol: the request body
	json   bool       // the JSON 1.1 protocol (X-Amz-Target)
	// targetPrefix is X-Amz-Target before the action, e.g. "AWSEvents".
	targetPrefix string
	action       string
	service      string // "iam", "sts", "sns", "events" or "cloudtrail", from the credential scope
	region       string
	requestID    string
	caller       *principal
	keyID        string // the access key id that signed the request

	// What CloudTrail records beyond the request: set by handlers that
	// have something to say (AssumeRole's credentials, for one).
	responseElements any
	resources        []trailResource
}

func (c *call) get(name string) string { return c.params.Get(name) }

// Paths that are not AWS APIs: the server's own view of the deliveries it
// made, for rehearsals and tests.
const deliveriesPath = "/_awstest/deliveries"

// ServeHTTP implements http.Handler: the query and JSON APIs on "/", the
// federation endpoint on "/federation", the delivery log on
// /_awstest/deliveries, and S3 (path-style) on any other path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/federation":
		s.serveFederation(w, r)
		return
	case "/console":
		s.serveConsole(w, r)
		return
	case deliveriesPath:
		s.serveDeliveries(w, r)
		return
	}
	if r.URL.Path != "/" && r.URL.Path != "" {
		s.serveS3(w, r) // path-style: /BUCKET, /BUCKET/KEY
		return
	}
	requestID := newRequestID()
	c := &call{r: r, requestID: requestID}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveJSON(w, c, target)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, iamNamespace, requestID, newError(http.StatusBadRequest, "MalformedQueryString", "unreadable body"))
		return
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		writeError(w, iamNamespace, requestID, newError(http.StatusBadRequest, "MalformedQueryString", "body is not form-encoded"))
		return
	}
	for k, v := range r.URL.Query() {
		params[k] = append(params[k], v...)
	}
	c.params, c.body, c.action = params, body, params.Get("Action")
	ns := iamNamespace
	switch params.Get("Version") {
	case stsVersion:
		ns = stsNamespace
	case snsVersion:
		ns = snsNamespace
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[c.action]++
	result, aerr := s.handle(c, body)
	switch c.service {
	case "sts":
		ns = stsNamespace
	case "sns":
		ns = snsNamespace
	}
	aerr = aerr.forService(c.service)
	s.logCall(c, aerr)
	if aerr != nil {
		writeError(w, ns, requestID, aerr)
	} else {
		writeResult(w, ns, c.action, requestID, result)
	}
	s.afterCall(c, aerr)
}

// afterCall records the call for CloudTrail, fires the EventBridge rules
// it matches, and saves the state. Callers hold s.mu.
func (s *Server) afterCall(c *call, aerr *apiError) {
	if c.caller != nil {
		if ev := s.record(c, aerr); ev != nil {
			s.fire(ev)
		}
	}
	s.persist()
}

func (s *Server) logCall(c *call, aerr *apiError) {
	who := "anonymous"
	if c.caller != nil {
		who = c.caller.arn
	}
	if aerr != nil {
		s.logf("awstest: %s %s by %s: %s", c.service, c.action, who, aerr.Code)
	} else {
		s.logf("awstest: %s %s by %s: ok", c.service, c.action, who)
	}
}

// persist saves the state if there is a state file, remembering a
// failure for Close. Callers hold s.mu.
func (s *Server) persist() {
	if s.opts.StatePath != "" {
		if err := s.save(); err != nil {
			s.stateErr = err
		}
	}
}

// queryHandlers are the query-protocol services, by signing name.
var queryHandlers = map[string]map[string]handler{
	"iam": iamHandlers,
	"sts": stsHandlers,
	"sns": snsHandlers,
}

// jsonHandlers are the JSON 1.1 services, by signing name; their
// X-Amz-Target is one of the prefixes, a dot, and the action.
var jsonHandlers = map[string]struct {
	prefixes []string
	handlers map[string]handler
}{
	"events":     {[]string{eventsTargetPrefix}, eventsHandlers},
	"cloudtrail": {cloudtrailTargetPrefixes, cloudtrailHandlers},
}

func (s *Server) handle(c *call, body []byte) (any, *apiError) {
	if c.action == "" {
		return nil, newError(http.StatusBadRequest, "MissingAction", "Missing Action")
	}
	if c.action == "ConfirmSubscription" && !c.json && c.r.Header.Get("Authorization") == "" && c.params.Get("X-Amz-Signature") == "" {
		// The SubscribeURL an SNS endpoint is sent: no signature needed.
		c.service = "sns"
		return s.confirmSubscription(c)
	}
	if err := s.authenticate(c, body); err != nil {
		return nil, err
	}
	var h handler
	if j, ok := jsonHandlers[c.service]; ok {
		if !c.json || !slices.Contains(j.prefixes, c.targetPrefix) {
			return nil, newError(http.StatusBadRequest, "UnknownOperationException", "%s takes the JSON 1.1 protocol with X-Amz-Target %s.ACTION", c.service, j.prefixes[0])
		}
		h = j.handlers[c.action]
	} else if q, ok := queryHandlers[c.service]; ok {
		if c.json {
			return nil, newError(http.StatusBadRequest, "InvalidAction", "%s takes the query protocol, not X-Amz-Target", c.service)
		}
		h = q[c.action]
	} else {
		return nil, newError(http.StatusBadRequest, "InvalidAction", "Service %q is not served here", c.service)
	}
	if h == nil {
		if c.json {
			return nil, newError(http.StatusBadRequest, "UnknownOperationException", "Unknown operation %s", c.action)
		}
		return nil, newError(http.StatusBadRequest, "InvalidAction", "Could not find operation %s for version %s", c.action, c.get("Version"))
	}
	if f := s.faults[c.action]; f != nil {
		f.n--
		if f.n <= 0 {
			delete(s.faults, c.action)
		}
		return nil, newError(statusForCode(f.code), f.code, "Rate exceeded (injected by awstest)")
	}
	return h(s, c)
}

type handler func(*Server, *call) (any, *apiError)

// authenticate verifies the SigV4 signature, in the Authorization header
// or presigned in the query string, and finds the caller. It also records
// the long-term key's last use, as IAM does for any authenticated request.
func (s *Server) authenticate(c *call, body []byte) *apiError {
	a, aerr := parseSigned(c.r)
	if aerr != nil {
		return aerr
	}
	if a == nil {
		return newError(http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	c.service, c.region, c.keyID = a.Service, a.Region, a.AccessKeyID
	token := a.token
	now := s.now()

	var p *principal
	var secret string
	switch {
	case a.AccessKeyID == s.st.Admin.AccessKeyID:
		if token != "" {
			return errInvalidToken()
		}
		secret = s.st.Admin.SecretAccessKey
		p = &principal{kind: "root", arn: "arn:aws:iam::" + s.st.Account + ":root", id: s.st.Account}
	case s.st.Keys[a.AccessKeyID] != nil:
		k := s.st.Keys[a.AccessKeyID]
		u := s.st.Users[k.User]
		if k.Status != "Active" || u == nil || token != "" {
			return errInvalidToken()
		}
		secret = k.Secret
		p = &principal{kind: "user", arn: s.userARN(u), id: u.ID, user: u, key: k}
	case s.st.Sessions[a.AccessKeyID] != nil:
		ss := s.st.Sessions[a.AccessKeyID]
		if token != ss.Token {
			return errInvalidToken()
		}
		secret = ss.Secret
		switch u := s.st.Users[ss.User]; {
		case ss.Role != "":
			r := s.st.Roles[ss.Role]
			if r == nil {
				return errInvalidToken()
			}
			p = &principal{kind: "assumed-role", arn: s.sessionARN(ss), id: r.ID + ":" + ss.Name, session: ss}
		case ss.Root:
			p = &principal{kind: "root", arn: "arn:aws:iam::" + s.st.Account + ":root", id: s.st.Account, session: ss}
		case u != nil && u.ID == ss.UserID:
			// A session token outlives the key that made it (deleting or
			// deactivating the key does not end it), but not its user.
			p = &principal{kind: "user", arn: s.userARN(u), id: u.ID, user: u, session: ss}
		default:
			return errInvalidToken()
		}
	default:
		return errInvalidToken()
	}
	if err := checkSignature(c.r, body, a, secret, s.realNow().Add(s.signingSkew)); err != nil {
		return err
	}
	if p.session != nil && !now.Before(p.session.Expires) {
		return errExpiredToken()
	}
	if p.session != nil && !p.assumedRole() && c.service == "iam" {
		// Session tokens without MFA may not call IAM; AWS answers
		// InvalidClientTokenId. The server has no MFA devices.
		return errInvalidToken()
	}
	if p.key != nil {
		p.key.LastUsed, p.key.LastService, p.key.LastRegion = now, c.service, c.region
	}
	c.caller = p
	return nil
}

// authorize decides whether the caller may perform action on resource,
// with extra request context keys. Root may do anything.
func (s *Server) authorize(c *call, action, resource string, extra map[string]string) *apiError {
	p := c.caller
	if p.kind == "root" {
		return nil
	}
	ctx := s.callerContext(p)
	for k, v := range extra {
		ctx[strings.ToLower(k)] = v
	}
	req := request{Principal: p.arn, Account: s.st.Account, Action: action, Resource: resource, Context: ctx}
	// A session policy narrows the session: an explicit deny in it wins,
	// and without its allow nothing is allowed.
	if p.session != nil && p.session.Policy != "" {
		sp, err := parsePolicy(p.session.Policy, identityPolicy)
		if err != nil {
			return errAccessDenied("User: %s is not authorized to perform: %s on resource: %s because no session policy allows the %s action", p.arn, action, resource, action)
		}
		switch evaluate([]*policyDoc{sp}, req, false) {
		case explicitDeny:
			return errAccessDenied("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a session policy", p.arn, action, resource)
		case implicitDeny:
			return errAccessDenied("User: %s is not authorized to perform: %s on resource: %s because no session policy allows the %s action", p.arn, action, resource, action)
		}
	}
	switch evaluate(s.identityPolicies(p), req, false) {
	case allowed:
		return nil
	case explicitDeny:
		return errAccessDenied("User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", p.arn, action, resource)
	}
	return errAccessDenied("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", p.arn, action, resource, action)
}

// callerContext gives the global condition keys for p.
func (s *Server) callerContext(p *principal) map[string]string {
	now := s.now()
	ctx := map[string]string{
		"aws:principalarn":     p.arn,
		"aws:principalaccount": s.st.Account,
		"aws:userid":           p.id,
		"aws:currenttime":      isoTime(now),
		"aws:securetransport":  "false",
		"aws:principaltype":    map[string]string{"root": "Account", "user": "User", "assumed-role": "AssumedRole"}[p.kind],
	}
	if p.user != nil {
		ctx["aws:username"] = p.user.Name
	}
	if p.session != nil {
		ctx["aws:tokenissuetime"] = isoTime(p.session.Issued)
		if p.session.SourceIdentity != "" {
			ctx["aws:sourceidentity"] = p.session.SourceIdentity
		}
	}
	return ctx
}

// identityPolicies are the parsed inline and attached policies of p.
func (s *Server) identityPolicies(p *principal) []*policyDoc {
	var from []*entity
	switch {
	case p.user != nil:
		// A user's own policies and those of every group it is in.
		from = append(from, &p.user.entity)
		for _, g := range s.groupsOf(p.user.Name) {
			from = append(from, &g.entity)
		}
	case p.assumedRole():
		if r := s.st.Roles[p.session.Role]; r != nil {
			from = append(from, &r.entity)
		}
	}
	var out []*policyDoc
	for _, e := range from {
		for _, name := range sortedKeys(e.Inline) {
			if d, err := parsePolicy(e.Inline[name], identityPolicy); err == nil {
				out = append(out, d)
			}
		}
		for _, arn := range e.Attached {
			if doc, ok := managedPolicies[arn]; ok {
				if d, err := parsePolicy(doc, identityPolicy); err == nil {
					out = append(out, d)
				}
			}
		}
	}
	return out
}

// groupsOf lists the groups the named user is a member of, by name.
func (s *Server) groupsOf(userName string) []*group {
	var out []*group
	for _, name := range sortedKeys(s.st.Groups) {
		g := s.st.Groups[name]
		for _, m := range g.Members {
			if m == userName {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (s *Server) userARN(u *user) string {
	return "arn:aws:iam::" + s.st.Account + ":user" + u.Path + u.Name
}

func (s *Server) roleARN(r *role) string {
	return "arn:aws:iam::" + s.st.Account + ":role" + r.Path + r.Name
}

// sessionARN is the ARN a session acts as: the assumed role's session, or
// for a session token the user (or the root) that made it.
func (s *Server) sessionARN(ss *session) string {
	switch {
	case ss.Role != "":
		return "arn:aws:sts::" + s.st.Account + ":assumed-role/" + ss.Role + "/" + ss.Name
	case ss.Root:
		return "arn:aws:iam::" + s.st.Account + ":root"
	}
	if u := s.st.Users[ss.User]; u != nil {
		return s.userARN(u)
	}
	return s.userARNFor("/", ss.User)
}

func (s *Server) groupARN(g *group) string {
	return "arn:aws:iam::" + s.st.Account + ":group" + g.Path + g.Name
}

const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// newID makes an AWS-style identifier: prefix plus n characters.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// newSecret makes a 40-character secret access key.
func newSecret() string { return randomString(40) }

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = secretAlphabet[int(b[i])%len(secretAlphabet)]
	}
	return string(b)
}

func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
