package main

import (
	"github.com/urfave/cli/v2"
)

func awsCommand() *cli.Command {
	return &cli.Command{
		Name:  "aws",
		Usage: "emergency AWS credentials: provision, personal sessions, revoke, check, audit",
		Subcommands: []*cli.Command{
			awsProvisionCommand(),
			awsSessionCommand(),
			awsRedeemCommand(),
			awsRevokeCommand(),
			awsRotateCommand(),
			awsCheckCommand(),
			awsAuditCommand(),
			awsCallerIdentityCommand(),
			awsRehearsalServerCommand(),
		},
	}
}
