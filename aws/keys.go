package aws

import (
	"context"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// AccessKeyIDs lists the ids of the access keys user has in IAM, active or
// not; none when the user does not exist. Commands that act on a sealed
// key without unsealing it use it to check that the key id a .glass header
// names is one IAM knows for the break-glass user.
func AccessKeyIDs(ctx context.Context, cfg awssdk.Config, user string) ([]string, error) {
	var ids []string
	keys := iam.NewListAccessKeysPaginator(iamClient(cfg), &iam.ListAccessKeysInput{UserName: &user})
	for keys.HasMorePages() {
		page, err := keys.NextPage(ctx)
		if errorCode(err) == "NoSuchEntity" {
			return nil, nil
		}
		if err != nil {
			return nil, classify("list access keys of "+user, err)
		}
		for _, k := range page.AccessKeyMetadata {
			ids = append(ids, awssdk.ToString(k.AccessKeyId))
		}
	}
	return ids, nil
}
