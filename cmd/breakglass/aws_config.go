package main

// The aws commands' connection to AWS: the administrator's SDK
// configuration, its flags, a deadline, and package aws's errors as hints.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
)

// awsConnFlags select the administrator's credentials and the endpoint:
// the SDK's default chain (environment, ~/.aws, SSO, instance roles) with
// these overrides.
func awsConnFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "profile", Usage: "AWS shared-config `PROFILE` (default: the SDK's default chain)"},
		&cli.StringFlag{Name: "region", Usage: "AWS `REGION` (IAM is global; default us-east-1)"},
		&cli.StringFlag{Name: "endpoint-url", Usage: "send every AWS request to `URL` (the rehearsal server; AWS_ENDPOINT_URL works too)"},
	}
}

// awsEndpoint is --endpoint-url, else $AWS_ENDPOINT_URL_STS or
// $AWS_ENDPOINT_URL, as the SDK itself reads them.
func awsEndpoint(c *cli.Context) string {
	if e := c.String("endpoint-url"); e != "" {
		return e
	}
	if e := os.Getenv("AWS_ENDPOINT_URL_STS"); e != "" {
		return e
	}
	return os.Getenv("AWS_ENDPOINT_URL")
}

// awsAdminConfig loads the administrator's SDK configuration.
func awsAdminConfig(c *cli.Context) (awssdk.Config, error) {
	cfg, err := aws.LoadConfig(c.Context, aws.ConfigOptions{
		Profile:  c.String("profile"),
		Region:   c.String("region"),
		Endpoint: c.String("endpoint-url"),
	})
	if err != nil {
		return cfg, withHints(err, "check --profile, ~/.aws/config and ~/.aws/credentials (or AWS_SHARED_CREDENTIALS_FILE)")
	}
	return cfg, nil
}

// awsContext bounds one command's AWS calls.
func awsContext(c *cli.Context) (context.Context, context.CancelFunc) {
	ctx := c.Context
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, 2*time.Minute)
}

// awsErr turns package aws's errors into hints. what says what was being
// done, for the message.
func awsErr(what string, err error) error {
	var ce *aws.ConflictError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return withHints(fmt.Errorf("%s: %w", what, err),
			"breakglass never takes over an IAM "+ce.Kind+" it did not create; nothing was changed",
			"look at who owns "+ce.ARN+" (its tags, CloudTrail), then rename it or choose another --name")
	case errors.Is(err, aws.ErrDurationTooLong):
		return withHints(fmt.Errorf("%s: %w", what, err),
			"ask for less with --duration (the role allows what provision set with --max-session; 1h by default)")
	case errors.Is(err, aws.ErrKeyInvalid):
		return withHints(fmt.Errorf("%s: %w", what, err),
			"the sealed key is deleted, inactive or was rotated outside breakglass: run breakglass aws check to see which",
			"then breakglass aws revoke (a new key sealed to the same roster) or breakglass aws provision")
	case errors.Is(err, aws.ErrAccessDenied):
		return withHints(fmt.Errorf("%s: %w", what, err),
			"a policy changed: the user needs sts:AssumeRole and sts:SetSourceIdentity on the role, and the role must trust the user",
			"run breakglass aws check with administrator credentials; it names the drift and the fix")
	case errors.Is(err, aws.ErrThrottled):
		return withHints(fmt.Errorf("%s: %w", what, err),
			"AWS kept throttling after several retries with backoff; wait a minute and run the command again")
	case errors.Is(err, aws.ErrUnreachable):
		return withHints(fmt.Errorf("%s: %w", what, err),
			"check the network (and a proxy: HTTPS_PROXY); breakglass needs to reach IAM and STS",
			"with the rehearsal server, check --endpoint-url or AWS_ENDPOINT_URL")
	case errors.Is(err, aws.ErrExpired):
		return withHints(fmt.Errorf("%s: %w", what, err), "start a new session with breakglass aws session")
	case errors.Is(err, aws.ErrNoCredentials):
		// One line: the SDK's account of every place it looked (instance
		// metadata included) helps nobody at 4 am.
		return withHints(fmt.Errorf("%s: no AWS credentials found", what),
			"give --profile PROFILE (see ~/.aws/config), or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
			"with SSO: aws sso login --profile PROFILE first")
	case errors.Is(err, aws.ErrWrongAccount):
		return withHints(fmt.Errorf("%s: %w", what, err),
			"use administrator credentials for the account the secret belongs to (--profile)")
	}
	return fmt.Errorf("%s: %w", what, err)
}
