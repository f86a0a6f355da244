package main

// aws check --fire-test: publish a test alert, and report where it arrived
// when the endpoint is the rehearsal server (real SNS does not tell).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/awstest"
)

// awsAlertTestJSON is the fire test in check's --json output.
type awsAlertTestJSON struct {
	Message   string             `json:"message"`
	Published []awsPublishedJSON `json:"published"`
	Observed  bool               `json:"observed"` // the endpoint told where the message went
	Delivered []awsDeliveredJSON `json:"delivered,omitempty"`
	Missed    []string           `json:"missed,omitempty"` // confirmed recipients the message did not reach
	Findings  []aws.Finding      `json:"-"`
}

type awsPublishedJSON struct {
	TopicARN  string `json:"topic_arn"`
	MessageID string `json:"message_id,omitempty"`
	Error     string `json:"error,omitempty"`
}

type awsDeliveredJSON struct {
	TopicARN string `json:"topic_arn"`
	Protocol string `json:"protocol"`
	Endpoint string `json:"endpoint"`
}

// awsFireTest publishes the test message and, against the rehearsal
// server, finds where it went. A confirmed recipient it did not reach,
// and a topic it could not be published to, are drift.
func awsFireTest(ctx context.Context, cfg awssdk.Config, spec aws.Spec, rep *aws.CheckReport, endpoint string) (*awsAlertTestJSON, error) {
	test, err := aws.FireAlertTest(ctx, cfg, spec, time.Now())
	if err != nil {
		return nil, err
	}
	out := &awsAlertTestJSON{Message: test.Message}
	fix := "run breakglass aws check again after fixing the findings above; if none, check the topic policy and the subscription in the SNS console"
	for _, p := range test.Published {
		pj := awsPublishedJSON{TopicARN: p.TopicARN, MessageID: p.MessageID}
		if p.Err != nil {
			pj.Error = p.Err.Error()
			out.Findings = append(out.Findings, aws.Finding{Severity: aws.Drift, Subject: p.TopicARN,
				Problem: "the test alert could not be published: " + p.Err.Error(), Fix: fix})
		}
		out.Published = append(out.Published, pj)
	}
	if endpoint == "" {
		return out, nil
	}
	got := map[string]bool{}
	for _, p := range test.Published {
		if p.MessageID == "" {
			continue
		}
		ds, err := awstest.FetchDeliveries(ctx, endpoint, p.MessageID)
		if errors.Is(err, awstest.ErrNotRehearsal) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out.Observed = true
		for _, d := range ds {
			out.Delivered = append(out.Delivered, awsDeliveredJSON{TopicARN: d.TopicARN, Protocol: d.Protocol, Endpoint: d.Endpoint})
			got[d.Protocol+":"+d.Endpoint] = true
		}
	}
	if rep.Alert != nil {
		for _, r := range rep.Alert.Recipients {
			if r.Status == "confirmed" && !got[r.Alert] {
				out.Missed = append(out.Missed, r.Alert)
				out.Findings = append(out.Findings, aws.Finding{Severity: aws.Drift, Subject: r.Alert,
					Problem: "the test alert did not reach this confirmed recipient", Fix: fix})
			}
		}
	}
	return out, nil
}

// printAlert writes the alert path and the fire test for people.
func printAlert(w io.Writer, a *aws.AlertReport, t *awsAlertTestJSON) {
	if a != nil {
		state := a.RuleState
		if state == "" {
			state = "missing"
		}
		var rs []string
		for _, r := range a.Recipients {
			rs = append(rs, r.Alert+" "+r.Status)
		}
		hash := a.PatternHash
		if len(hash) > 16 {
			hash = hash[:16] + "…"
		}
		fmt.Fprintf(w, "alert: rule %s %s (pattern sha256 %s) -> topic %s; %s\n", a.RuleARN, state, hash, a.TopicARN, strings.Join(rs, ", "))
	}
	if t == nil {
		return
	}
	for _, p := range t.Published {
		if p.Error == "" {
			fmt.Fprintf(w, "alert test: published to %s (message %s)\n", p.TopicARN, p.MessageID)
		}
	}
	switch {
	case t.Observed:
		for _, d := range t.Delivered {
			fmt.Fprintf(w, "alert test: delivered to %s:%s (rehearsal server)\n", d.Protocol, d.Endpoint)
		}
		if len(t.Delivered) == 0 {
			fmt.Fprintf(w, "alert test: delivered to nobody (rehearsal server)\n")
		}
	default:
		fmt.Fprintf(w, "alert test: SNS does not report delivery; ask the recipients whether \"breakglass … TEST of the alert path\" arrived\n")
	}
}
