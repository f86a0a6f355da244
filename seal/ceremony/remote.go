package ceremony

import (
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/remote"
)

// Remote holds the responses of remote taps (package remote) that answer
// one request. Each is checked against the request, the sealed file and
// the roster before its share is used.
type Remote struct {
	Request   *remote.Request
	Identity  *age.X25519Identity // the request's one-time key
	Responses []Response
	// Spent, when set, is called once every response was accepted: the
	// request's key has done its job, and no later ceremony should be able
	// to use these responses (the command line deletes REQ.key).
	Spent func()
}

// A Response is the text of a remote tap's response and where it came from.
type Response struct {
	From string
	Text []byte
}

// RequestProblem says why a request does not fit the ceremony.
type RequestProblem int

// What can be wrong with a request.
const (
	RequestOtherFile     RequestProblem = iota + 1 // for another sealed secret or version
	RequestExpired                                 // past its expiry
	RequestOtherOperator                           // made for another operator
	RequestDiffers                                 // another reason, ticket or use case
)

// A RequestError is a remote request that does not fit this ceremony:
// nothing was tapped.
type RequestError struct {
	Problem  RequestProblem
	Request  *remote.Request
	Operator string // this ceremony's operator
	Err      error  // RequestOtherFile: the mismatch
}

func (e *RequestError) Error() string {
	r := e.Request
	switch e.Problem {
	case RequestOtherFile:
		return fmt.Sprintf("request %s is for another sealed secret (or an older version of it): %v", r.Short(), e.Err)
	case RequestExpired:
		return fmt.Sprintf("request %s expired at %s", r.Short(), r.ExpiresAt.Format(time.RFC3339))
	case RequestOtherOperator:
		return fmt.Sprintf("request %s was made for the operator %s, but this unseal is run by %s: the custodians approved %s, nothing was tapped",
			r.Short(), r.Operator, e.Operator, r.Operator)
	}
	return "--reason, --ticket and --use-case differ from the request's"
}

func (e *RequestError) Unwrap() error { return e.Err }

// A ResponseError is a remote response that was refused. Malformed is
// true when it could not be parsed at all.
type ResponseError struct {
	From      string
	Malformed bool
	Err       error
}

func (e *ResponseError) Error() string {
	if e.Malformed {
		return e.From + ": " + e.Err.Error()
	}
	return fmt.Sprintf("response %s rejected: %v", e.From, e.Err)
}

func (e *ResponseError) Unwrap() error { return e.Err }

// errOtherCustodian: a response's share is not the one of the custodian
// who signed its approval.
var errOtherCustodian = errors.New("the share is another custodian's")

// addResponses adds the responses of rm. It checks the request against
// the file and the ceremony, then each response.
func (cm *Ceremony) addResponses(rm *Remote) error {
	if len(rm.Responses) == 0 {
		return nil
	}
	req := rm.Request
	if err := req.CheckFile(cm.f); err != nil {
		return &RequestError{Problem: RequestOtherFile, Request: req, Err: err}
	}
	if req.Expired(time.Now()) {
		return &RequestError{Problem: RequestExpired, Request: req}
	}
	if req.Operator != cm.req.Operator {
		return &RequestError{Problem: RequestOtherOperator, Request: req, Operator: cm.req.Operator}
	}
	if req.Reason != cm.req.Reason || req.Ticket != cm.req.Ticket || req.UseCase != cm.req.UseCase {
		return &RequestError{Problem: RequestDiffers, Request: req}
	}
	for _, r := range rm.Responses {
		if err := cm.addResponse(req, rm.Identity, r); err != nil {
			return err
		}
	}
	if rm.Spent != nil {
		rm.Spent()
	}
	return nil
}

func (cm *Ceremony) addResponse(req *remote.Request, id *age.X25519Identity, r Response) error {
	resp, err := remote.ParseResponse(r.Text)
	if err != nil {
		return &ResponseError{From: r.From, Malformed: true, Err: err}
	}
	m, a, err := resp.Open(cm.f, req, id)
	if err != nil {
		return &ResponseError{From: r.From, Err: err}
	}
	defer secret.Wipe(m)
	got, err := cm.u.AddMnemonic(string(m))
	extra := false
	if err != nil {
		switch {
		case cm.opts.CollectAll && errors.Is(err, seal.ErrGroupComplete) && got == a.Index && !cm.results[got].Tapped:
			extra = true
		case errors.Is(err, seal.ErrAlreadyTapped):
			cm.event(Event{Kind: Skipped, Via: ViaRemote, Token: r.From, Custodian: resp.Custodian, Err: err})
			return nil
		default:
			return &ResponseError{From: r.From, Err: err}
		}
	}
	if got != a.Index {
		return &ResponseError{From: r.From, Err: errOtherCustodian}
	}
	cm.accepted(got, a, ViaRemote, cm.results[got].Token, extra)
	cm.event(Event{Kind: Tapped, Via: ViaRemote, Token: r.From, Custodian: resp.Custodian, Who: resp.Custodian,
		Tap: cm.Tapped(), Of: cm.Tapped() + cm.TapsNeeded(), Approval: a, Extra: extra})
	return nil
}
