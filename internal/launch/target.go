package launch

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TwinAccount is the fixed account the rehearsal twin answers STS GetCallerIdentity with.
const TwinAccount = "000000000000"

// Target says, unmistakably, what AWS a run acts on: it asks STS GetCallerIdentity through the
// standard configuration chain (AWS_ENDPOINT_URL makes that the twin). Without any AWS
// configuration in the environment it does not call out and says "local host".
func Target(ctx context.Context, getenv func(string) string) string {
	if getenv("AWS_ENDPOINT_URL") == "" && getenv("AWS_PROFILE") == "" && getenv("AWS_ACCESS_KEY_ID") == "" &&
		getenv("AWS_REGION") == "" && getenv("AWS_DEFAULT_REGION") == "" {
		return "local host"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Sprintf("AWS (identity unknown: %v)", err)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || out.Account == nil {
		return fmt.Sprintf("AWS (identity unknown: %v)", err)
	}
	if *out.Account == TwinAccount {
		return "rehearsal twin at " + getenv("AWS_ENDPOINT_URL") + " (account " + TwinAccount + ")"
	}
	return "AWS account " + *out.Account + " (" + cfg.Region + ")"
}
