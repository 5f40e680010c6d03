package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// The function binary, built as `bootstrap` and zipped as `make lambda` does, runs under the Lambda
// Runtime API the twin serves: answers, function errors, init errors, and a warm environment reused.
func TestBinaryAgainstTheTwinsRuntimeAPI(t *testing.T) {
	dir := testbed.TempDir(t)
	bin := filepath.Join(dir, "bootstrap")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	code := zipBootstrap(t, bin)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := twin.Start(ctx, twin.Options{Dir: filepath.Join(dir, "twin"), Speed: twin.SpeedFast})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sm, lc := secretsmanager.NewFromConfig(cfg), lambda.NewFromConfig(cfg)
	conn := `{"username":"app","password":"p\"a's\\s w0rd","host":"h","port":5432,"dbname":"d"}`
	for name, v := range map[string]string{"remote": conn, "elsewhere": conn, "notjson": "p\"a's\\s w0rd"} {
		if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(v)}); err != nil {
			t.Fatal(err)
		}
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("fn"), AssumeRolePolicyDocument: &trust})
	if err != nil {
		t.Fatal(err)
	}
	create := func(name string, env map[string]string) {
		t.Helper()
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: lambdatypes.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: role.Role.Arn, Code: &lambdatypes.FunctionCode{ZipFile: code},
			Environment: &lambdatypes.Environment{Variables: env}}); err != nil {
			t.Fatal(err)
		}
	}
	invoke := func(name, payload string) *lambda.InvokeOutput {
		t.Helper()
		out, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload), LogType: lambdatypes.LogTypeTail})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	create("secret-fn", map[string]string{AllowListEnv: "remote,notjson"})

	out := invoke("secret-fn", `{"secret_id": "remote", "fields": ["password", "port"]}`)
	var ok FieldsResponse
	if out.FunctionError != nil || json.Unmarshal(out.Payload, &ok) != nil || string(ok.Values["port"]) != "5432" || string(ok.Values["password"]) != `"p\"a's\\s w0rd"` {
		t.Fatalf("answer: %v %s", aws.ToString(out.FunctionError), out.Payload)
	}
	if aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Errorf("executed version %q", aws.ToString(out.ExecutedVersion))
	}
	logs, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if !strings.Contains(string(logs), "answered") || !strings.Contains(string(logs), "REPORT RequestId") {
		t.Errorf("tail of the log: %s", logs)
	}

	for payload, typ := range map[string]string{
		`{"secret_id": "elsewhere", "field": "password"}`: "Secret.NotAllowed",
		`{"secret_id": "notjson", "field": "password"}`:   "Secret.NotJSON",
		`{"secret_id": "remote", "field": "nope"}`:        "Secret.MissingKey",
		`{"secret_name": "remote"}`:                       "Request.Invalid",
	} {
		out := invoke("secret-fn", payload)
		var e struct{ ErrorType, ErrorMessage string }
		_ = json.Unmarshal(out.Payload, &e)
		if aws.ToString(out.FunctionError) != "Unhandled" || e.ErrorType != typ {
			t.Errorf("%s: function error %q %s, want %s", payload, aws.ToString(out.FunctionError), out.Payload, typ)
		}
		if strings.Contains(string(out.Payload), "w0rd") {
			t.Errorf("%s: the error carries the secret: %s", payload, out.Payload)
		}
	}

	// Without an allow-list the function refuses to start, through /runtime/init/error.
	create("no-allow-list", nil)
	out = invoke("no-allow-list", `{"secret_id": "remote", "field": "password"}`)
	if aws.ToString(out.FunctionError) == "" || !strings.Contains(string(out.Payload), "Runtime.InitError") || !strings.Contains(string(out.Payload), AllowListEnv) {
		t.Errorf("no allow-list: %v %s", aws.ToString(out.FunctionError), out.Payload)
	}

	// Nothing the function logged holds the password.
	data, _ := os.ReadFile(filepath.Join(dir, "twin", "lambda", "secret-fn", "log"))
	if strings.Contains(string(data), "w0rd") || !strings.Contains(string(data), "START RequestId") {
		t.Errorf("function log:\n%s", data)
	}
}

func zipBootstrap(t *testing.T, bin string) []byte {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
