// Command cairn-secret-lambda is the AWS Lambda function (runtime provided.al2023, built as `bootstrap`)
// that the dblink-secret runbook deploys: it reads one secret from AWS Secrets Manager and answers with
// the keys asked for, as a JSON object, so that a database function can open a dblink connection
// without the database ever storing the password.
//
// Input: {"secret_id": "<name or ARN>", "field": "password"} → {"secret_id", "field", "value"}, or
// {"secret_id": …, "fields": ["host", "port", …]} → {"secret_id", "values": {…}}. Only the secret ids
// listed in CAIRN_ALLOWED_SECRET_IDS (comma-separated, exactly as callers pass them) are read; the
// function's IAM role is scoped to the same secrets. Errors are Lambda function errors (errorType
// Request.Invalid, Secret.NotAllowed, Secret.NotFound, Secret.NotJSON, Secret.MissingKey, …) whose
// messages name ids and keys, never a secret's content; the log has one line per invocation with the
// same, and nothing else.
//
// It speaks the Lambda Runtime API itself (about a hundred lines, runtime.go) rather than through
// github.com/aws/aws-lambda-go: cairn's module pins its dependencies, and the contract is small and is
// tested against the Runtime API cairn's twin serves.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
)

func main() {
	logger := log.New(os.Stdout, "", 0)
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		fmt.Fprintln(os.Stderr, "cairn-secret-lambda: AWS_LAMBDA_RUNTIME_API is not set: this is a Lambda function (runtime provided.al2023), not a command")
		os.Exit(2)
	}
	rt := NewRuntime(api)
	ctx := context.Background()
	h, err := newHandler(ctx)
	if err != nil {
		logger.Printf("init failed: %v", err)
		_ = rt.InitFail(ctx, ferr("Runtime.InitError", "%v", err))
		os.Exit(1)
	}
	if err := serve(ctx, rt, h, logger); err != nil {
		logger.Printf("runtime loop ended: %v", err)
		os.Exit(1)
	}
}

func newHandler(ctx context.Context) (Handler, error) {
	allowed, err := ParseAllowList(os.Getenv(AllowListEnv))
	if err != nil {
		return Handler{}, err
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return Handler{}, fmt.Errorf("AWS configuration: %w", err)
	}
	return Handler{Allowed: allowed, Secrets: smReader{secretsmanager.NewFromConfig(cfg)}}, nil
}

// serve answers invocations until the Runtime API goes away.
func serve(ctx context.Context, rt *Runtime, h Handler, logger *log.Logger) error {
	for {
		inv, err := rt.Next(ctx)
		if err != nil {
			return err
		}
		ictx, cancel := context.WithCancel(ctx)
		if !inv.Deadline.IsZero() {
			ictx, cancel = context.WithDeadline(ctx, inv.Deadline.Add(-100*time.Millisecond))
		}
		start := time.Now()
		out, herr := h.Handle(ictx, inv.Payload)
		cancel()
		if herr != nil {
			var fe *FuncError
			if !errors.As(herr, &fe) {
				fe = ferr("Function.Error", "%v", herr)
			}
			logger.Printf("request %s: %s: %s (%s)", inv.RequestID, fe.Type, fe.Message, time.Since(start).Round(time.Millisecond))
			err = rt.Fail(ctx, inv.RequestID, fe)
		} else {
			logger.Printf("request %s: answered (%d bytes, %s)", inv.RequestID, len(out), time.Since(start).Round(time.Millisecond))
			err = rt.Respond(ctx, inv.RequestID, out)
		}
		if err != nil {
			return err
		}
	}
}

// smReader reads secrets with the SDK and maps its errors to function errors without the value.
type smReader struct{ c *secretsmanager.Client }

func (r smReader) SecretString(ctx context.Context, id string) (string, error) {
	out, err := r.c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			switch ae.ErrorCode() {
			case "ResourceNotFoundException":
				return "", ferr("Secret.NotFound", "secret %q does not exist", id)
			case "AccessDeniedException":
				return "", ferr("Secret.AccessDenied", "the function's role may not read secret %q (secretsmanager:GetSecretValue)", id)
			case "DecryptionFailure":
				return "", ferr("Secret.DecryptionFailure", "the secret %q cannot be decrypted with its KMS key (kms:Decrypt)", id)
			}
			return "", ferr("Secret.ReadFailed", "read secret %q: %s", id, ae.ErrorCode())
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return "", ferr("Secret.Timeout", "read secret %q: no answer from Secrets Manager before the function's deadline", id)
		}
		return "", ferr("Secret.ReadFailed", "read secret %q: Secrets Manager could not be reached", id)
	}
	if out.SecretString == nil {
		return "", ferr("Secret.NotJSON", "secret %q holds binary data, not a JSON object", id)
	}
	return aws.ToString(out.SecretString), nil
}
