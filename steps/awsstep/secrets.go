package awsstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/steps"
)

// SecretError is a secret a parameter names that cannot be used: missing, unreadable, or not
// holding what the run needs. It names the parameter and says what is wrong; it comes wrapped in
// a *steps.FixError with how to fix it (secretErr), so a preflight shows it as a finding
// (SecretFinding) and a later step's failure still says what to do.
type SecretError struct {
	// Param is the runbook parameter that names the secret (credentials-secret, passwords-secret).
	Param, Secret, Problem string
}

func (e *SecretError) Error() string {
	return fmt.Sprintf("%s %s: %s", e.Param, e.Secret, e.Problem)
}

// secretErr is the secret id of param unusable for problem, with its fix.
func secretErr(param, id, problem, fix string) error {
	return steps.WithFix(&SecretError{param, id, problem}, fix)
}

// SecretFinding is err as a finding when it is a secret's problem (a *SecretError with its fix).
func SecretFinding(err error) (diag.Diagnostic, bool) {
	var se *SecretError
	var fe *steps.FixError
	if !errors.As(err, &se) || !errors.As(err, &fe) {
		return diag.Diagnostic{}, false
	}
	return fe.Diagnostic(), true
}

// secretString reads a secret's string, the errors naming param.
func (c *Clients) secretString(ctx context.Context, param, id string) (string, error) {
	region := c.Secrets.Options().Region
	out, err := c.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
	switch {
	case IsNotFound(err):
		return "", secretErr(param, id, "no such secret in "+orRegion(region),
			fmt.Sprintf("aws secretsmanager list-secrets --region %s; pass -p %s=<name>", orRegion(region), param))
	case err != nil && CouldNotLook(err):
		return "", fmt.Errorf("%s %s: %w", param, id, err)
	case err != nil:
		return "", secretErr(param, id, "cannot be read: "+errMessage(err),
			"check that this identity may secretsmanager:GetSecretValue on it (and kms:Decrypt on its key), or pass -p "+param+"=<name>")
	}
	if out.SecretString == nil {
		return "", secretErr(param, id, "holds binary data, not a JSON string", "store it as a JSON string (aws secretsmanager put-secret-value --secret-id "+id+" --secret-string …)")
	}
	return aws.ToString(out.SecretString), nil
}

func orRegion(r string) string {
	if r == "" {
		return "the default region"
	}
	return r
}

// errMessage is an AWS error's code and message, without the SDK's request details.
func errMessage(err error) string {
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

// MasterCredentials reads the credentials-secret: a Secrets Manager secret holding {"username": …,
// "password": …} (the RDS convention). The password is registered for redaction at once.
func (c *Clients) MasterCredentials(ctx context.Context, env *steps.Env, secretID string) (Credentials, error) {
	const param = "credentials-secret"
	s, err := c.secretString(ctx, param, secretID)
	if err != nil {
		return Credentials{}, err
	}
	var v struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return Credentials{}, secretErr(param, secretID, "is not JSON with username and password: "+errors.Unwrap(err).Error(),
			`store {"username": "<master user>", "password": "<password>"} in it, or pass -p `+param+"=<name> of the instance's master secret")
	}
	if v.Username == "" || v.Password == "" {
		return Credentials{}, secretErr(param, secretID, "has no username or password",
			`store {"username": "<master user>", "password": "<password>"} in it, or pass -p `+param+"=<name> of the instance's master secret")
	}
	if env.Secrets != nil {
		env.Secrets(v.Password)
	}
	return Credentials{Username: v.Username, Password: v.Password}, nil
}

// RolePasswords reads the passwords-secret: a Secrets Manager secret holding {"role": "password"}
// for the roles whose passwords cannot be dumped on RDS. Every password is registered for redaction.
func (c *Clients) RolePasswords(ctx context.Context, env *steps.Env, secretID string) (map[string]string, error) {
	const param = "passwords-secret"
	s, err := c.secretString(ctx, param, secretID)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(s), &raw); err != nil || raw == nil {
		return nil, secretErr(param, secretID, `is not a JSON object of role → password`, `store {"app_rw": "<password>", …} in it`)
	}
	pw := map[string]string{}
	var bad []string
	for r, v := range raw {
		p, ok := v.(string)
		if !ok || p == "" {
			bad = append(bad, r)
			continue
		}
		pw[r] = p
		if env.Secrets != nil {
			env.Secrets(p)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return nil, secretErr(param, secretID, "has no password (a non-empty string) for "+strings.Join(bad, ", "), `give each role a password string: {"role": "<password>"}`)
	}
	return pw, nil
}
