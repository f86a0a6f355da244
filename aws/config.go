package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

// ConfigOptions select an administrator's credentials for Provision,
// Revoke, Rotate and Check. Empty fields leave the SDK's defaults (the
// environment, ~/.aws/config and ~/.aws/credentials, SSO, instance roles).
type ConfigOptions struct {
	Profile string
	Region  string
	// Endpoint overrides every service endpoint, for the rehearsal server.
	Endpoint string
	// CredentialsFile replaces the shared credentials file.
	CredentialsFile string
	// RetryAttempts bounds the SDK's attempts; 0 keeps its default (3).
	RetryAttempts int
}

// LoadConfig loads an SDK configuration the way the AWS CLI does, with
// the overrides in o.
func LoadConfig(ctx context.Context, o ConfigOptions) (awssdk.Config, error) {
	var opts []func(*config.LoadOptions) error
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(o.Endpoint))
	}
	if o.CredentialsFile != "" {
		opts = append(opts, config.WithSharedCredentialsFiles([]string{o.CredentialsFile}))
	}
	if o.RetryAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(o.RetryAttempts))
	}
	// The SDK's own log lines (an instance-metadata fallback, say) would
	// only add noise: every failure comes back as an error that says what
	// went wrong.
	opts = append(opts, config.WithLogger(logging.Nop{}))
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return awssdk.Config{}, fmt.Errorf("aws: loading AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1" // IAM is global; STS works from any region
	}
	return cfg, nil
}
