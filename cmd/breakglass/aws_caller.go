package main

import (
	"errors"
	"fmt"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
)

// awsCallerIdentityCommand is `aws sts get-caller-identity` through the
// SDK, for rehearsals and tests: run it under aws session --exec to see
// whose session it is. Hidden: it is a tool for checking, not a step of the
// procedure.
func awsCallerIdentityCommand() *cli.Command {
	return &cli.Command{
		Name:   "caller-identity",
		Usage:  "print who the current AWS credentials are (sts get-caller-identity)",
		Hidden: true,
		Flags: append(awsConnFlags(),
			&cli.BoolFlag{Name: "probe-iam", Usage: "also call iam:ListRoles, to see whether the session may act (a revoked session may not)"}),
		Action: runAWSCallerIdentity,
	}
}

func runAWSCallerIdentity(c *cli.Context) error {
	cfg, err := awsAdminConfig(c)
	if err != nil {
		return err
	}
	ctx, cancel := awsContext(c)
	defer cancel()
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && strings.HasPrefix(ae.ErrorCode(), "ExpiredToken") {
			return awsErr("get caller identity", fmt.Errorf("%w: %v", aws.ErrExpired, err))
		}
		return awsErr("get caller identity", err)
	}
	arn := awssdk.ToString(out.Arn)
	fmt.Fprintf(c.App.Writer, "account: %s\narn: %s\nuser-id: %s\n", awssdk.ToString(out.Account), arn, awssdk.ToString(out.UserId))
	// An assumed role's ARN ends in the session name, which breakglass
	// sets to the operator (and the SourceIdentity with it).
	if i := strings.Index(arn, ":assumed-role/"); i >= 0 {
		parts := strings.Split(arn[i:], "/")
		fmt.Fprintf(c.App.Writer, "session: %s\n", parts[len(parts)-1])
	}
	if c.Bool("probe-iam") {
		if _, err := iam.NewFromConfig(cfg).ListRoles(ctx, &iam.ListRolesInput{}); err != nil {
			return awsErr("iam:ListRoles", err)
		}
		fmt.Fprintf(c.App.Writer, "iam:ListRoles: allowed\n")
	}
	return nil
}
