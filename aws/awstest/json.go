package awstest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// This file speaks the AWS JSON 1.1 protocol of EventBridge and
// CloudTrail: a POST to "/" with Content-Type application/x-amz-json-1.1,
// the operation in X-Amz-Target (e.g. "AWSEvents.PutRule"), the input as a
// JSON object; the output a JSON object, an error a status with
// {"__type": code, "message": …} and the code in X-Amzn-ErrorType too.
// Timestamps are seconds since the epoch, as JSON numbers.

const jsonContentType = "application/x-amz-json-1.1"

// serveJSON handles one JSON-protocol request.
func (s *Server) serveJSON(w http.ResponseWriter, c *call, target string) {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
	if err != nil {
		writeJSONError(w, c.requestID, newError(http.StatusBadRequest, "SerializationException", "unreadable body"))
		return
	}
	c.json, c.body = true, body
	c.targetPrefix, c.action, _ = cutLast(target, ".")

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[c.action]++
	var result any
	var aerr *apiError
	switch {
	case c.r.Method != http.MethodPost:
		aerr = newError(http.StatusBadRequest, "UnknownOperationException", "the JSON protocol takes POST")
	case len(bytes.TrimSpace(body)) == 0 || !json.Valid(body) || bytes.TrimSpace(body)[0] != '{':
		aerr = newError(http.StatusBadRequest, "SerializationException", "the request body is not a JSON object")
	default:
		result, aerr = s.handle(c, body)
	}
	aerr = aerr.forService(c.service)
	s.logCall(c, aerr)
	if aerr != nil {
		writeJSONError(w, c.requestID, aerr)
	} else {
		writeJSONResult(w, c.requestID, result)
	}
	s.afterCall(c, aerr)
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return "", s, false
}

// decodeInput reads the request's JSON object into v.
func (c *call) decodeInput(v any) *apiError {
	if err := json.Unmarshal(c.body, v); err != nil {
		return newError(http.StatusBadRequest, "SerializationException", "cannot read the input: %v", err)
	}
	return nil
}

func writeJSONResult(w http.ResponseWriter, requestID string, result any) {
	if result == nil {
		result = struct{}{}
	}
	b, err := json.Marshal(result)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Write(b)
}

func writeJSONError(w http.ResponseWriter, requestID string, e *apiError) {
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message})
	w.Header().Set("Content-Type", jsonContentType)
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Header().Set("X-Amzn-Errortype", e.Code)
	w.WriteHeader(e.Status)
	w.Write(b)
}

// epochSeconds is a timestamp as the JSON protocol writes it.
type epochSeconds time.Time

func (t epochSeconds) MarshalJSON() ([]byte, error) {
	return json.Marshal(float64(time.Time(t).UnixMilli()) / 1000)
}

func (t *epochSeconds) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*t = epochSeconds(time.UnixMilli(int64(f * 1000)).UTC())
	return nil
}
