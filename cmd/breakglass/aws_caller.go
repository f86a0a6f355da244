package main

import (
	"fmt"

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
	who, err := aws.CallerIdentity(ctx, cfg)
	if err != nil {
		return awsErr("aws caller-identity", err)
	}
	fmt.Fprintf(c.App.Writer, "account: %s\narn: %s\nuser-id: %s\n", who.Account, who.ARN, who.UserID)
	if who.SessionName != "" {
		fmt.Fprintf(c.App.Writer, "session: %s\n", who.SessionName)
	}
	if c.Bool("probe-iam") {
		if err := aws.ProbeIAM(ctx, cfg); err != nil {
			return awsErr("aws caller-identity --probe-iam", err)
		}
		fmt.Fprintf(c.App.Writer, "iam:ListRoles: allowed\n")
	}
	return nil
}
