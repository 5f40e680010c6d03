// Package lambda is the twin's AWS Lambda on its REST-JSON protocol (API 2015-03-31): CreateFunction
// from a zip, GetFunction, GetFunctionConfiguration, UpdateFunctionCode, UpdateFunctionConfiguration,
// Invoke (RequestResponse, Event, DryRun), DeleteFunction and ListTags.
//
// Functions with an OS-only runtime (provided.al2023, provided.al2) really run: on the first Invoke the
// twin unzips the code, starts its `bootstrap` executable with AWS_LAMBDA_RUNTIME_API pointing at a
// Lambda Runtime API the twin serves for that function on a loopback port (next invocation, response,
// error, init error), and keeps it warm for the next invocations, one at a time, as one execution
// environment does. So the binary that runs here is the one that runs on AWS. Its stdout and stderr are
// the function's log (state dir lambda/<name>/log, and the last 4 KB with LogType=Tail).
//
// Differences from AWS, on purpose: the environment also holds AWS_ENDPOINT_URL (the twin), so the
// function's own SDK calls come back to the twin; credentials are the twin's dummy keys; when the twin
// runs as root, bootstrap runs as the OS user nobody; no layers, aliases, versions, VPC or concurrency.
package lambda

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
	"github.com/cairn-runbooks/cairn/internal/twin/statefile"
)

// Options configure the service.
type Options struct {
	// Dir holds lambda.json and lambda/<name>/ (code, log, unpacked task).
	Dir string
	// Endpoint is the twin's URL, given to functions as AWS_ENDPOINT_URL.
	Endpoint func() string
	// RoleExists says whether an execution role ARN exists (IAM); nil accepts any.
	RoleExists func(arn string) bool
	// AccessKeyID and SecretAccessKey are the credentials functions get.
	AccessKeyID, SecretAccessKey string
}

// Function is one function as the twin keeps it.
type Function struct {
	Name          string
	Runtime       string
	Role          string
	Handler       string
	Description   string `json:",omitempty"`
	Timeout       int
	MemorySize    int
	Architectures []string
	Env           map[string]string `json:",omitempty"`
	Tags          map[string]string `json:",omitempty"`
	CodeSha256    string
	CodeSize      int64
	LastModified  time.Time
	RevisionID    string
}

// ARN is the function's ARN.
func (f *Function) ARN() string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", awswire.Region, awswire.Account, f.Name)
}

type state struct {
	Functions map[string]*Function
}

// Service is the twin's Lambda. Its methods are safe for concurrent use.
type Service struct {
	o    Options
	file statefile.File
	now  func() time.Time

	mu        sync.Mutex
	st        state
	sandboxes map[string]*sandbox // by function name, while warm
	runMu     map[string]*sync.Mutex
	closed    bool
}

// Open loads the state kept in o.Dir.
func Open(o Options) (*Service, error) {
	s := &Service{o: o, file: statefile.ForService(o.Dir, "lambda"), now: time.Now, sandboxes: map[string]*sandbox{}, runMu: map[string]*sync.Mutex{}}
	if err := s.file.Load(&s.st); err != nil {
		return nil, err
	}
	if s.st.Functions == nil {
		s.st.Functions = map[string]*Function{}
	}
	return s, nil
}

// Close stops every running function.
func (s *Service) Close() {
	s.mu.Lock()
	s.closed = true
	sbs := s.sandboxes
	s.sandboxes = map[string]*sandbox{}
	s.mu.Unlock()
	for _, sb := range sbs {
		sb.stop()
	}
}

func (s *Service) fnDir(name string) string { return filepath.Join(s.o.Dir, "lambda", name) }

// LogPath is where a function's log (its bootstrap's stdout and stderr, and START/END/REPORT lines) goes.
func (s *Service) LogPath(name string) string { return filepath.Join(s.fnDir(name), "log") }

func (s *Service) save() error { return s.file.Save(&s.st) }

// Handles reports whether a request is for Lambda (its REST paths).
func Handles(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/2015-03-31/functions") || strings.HasPrefix(r.URL.Path, "/2017-03-31/tags/")
}

var (
	fnPathRE   = regexp.MustCompile(`^/2015-03-31/functions/([^/]+)(/code|/configuration|/invocations)?/?$`)
	nameRE     = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	reservedEV = map[string]bool{"_HANDLER": true, "_X_AMZN_TRACE_ID": true, "AWS_DEFAULT_REGION": true, "AWS_REGION": true,
		"AWS_EXECUTION_ENV": true, "AWS_LAMBDA_FUNCTION_NAME": true, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": true,
		"AWS_LAMBDA_FUNCTION_VERSION": true, "AWS_LAMBDA_INITIALIZATION_TYPE": true, "AWS_LAMBDA_LOG_GROUP_NAME": true,
		"AWS_LAMBDA_LOG_STREAM_NAME": true, "AWS_ACCESS_KEY": true, "AWS_ACCESS_KEY_ID": true, "AWS_SECRET_ACCESS_KEY": true,
		"AWS_SESSION_TOKEN": true, "AWS_LAMBDA_RUNTIME_API": true, "LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true}
)

// ServeHTTP answers one Lambda request.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/2017-03-31/tags/"); ok {
		arn, _ := url.PathUnescape(rest)
		if r.Method != http.MethodGet {
			writeError(w, awswire.Errorf("UnknownOperationException", "The twin's Lambda serves only ListTags on tags"))
			return
		}
		s.mu.Lock()
		f, err := s.findLocked(arn)
		var tags map[string]string
		if err == nil {
			tags = f.Tags
		}
		s.mu.Unlock()
		answer(w, http.StatusOK, map[string]any{"Tags": nonNil(tags)}, err)
		return
	}
	if r.URL.Path == "/2015-03-31/functions" || r.URL.Path == "/2015-03-31/functions/" {
		if r.Method != http.MethodPost {
			writeError(w, awswire.Errorf("UnknownOperationException", "The twin's Lambda does not implement ListFunctions"))
			return
		}
		serveInput(w, r, http.StatusCreated, s.create)
		return
	}
	m := fnPathRE.FindStringSubmatch(r.URL.EscapedPath())
	if m == nil {
		writeError(w, awswire.NotFoundf("UnknownOperationException", "The twin's Lambda does not serve %s %s", r.Method, r.URL.Path))
		return
	}
	name, _ := url.PathUnescape(m[1])
	if q := r.URL.Query().Get("Qualifier"); q != "" && q != "$LATEST" {
		writeError(w, awswire.NotFoundf("ResourceNotFoundException", "Function not found: %s:%s (the twin keeps only $LATEST)", name, q))
		return
	}
	switch {
	case m[2] == "" && r.Method == http.MethodGet:
		s.mu.Lock()
		f, err := s.findLocked(name)
		var out any
		if err == nil {
			out = map[string]any{"Configuration": configOf(f), "Code": map[string]string{"RepositoryType": "S3", "Location": "https://awslambda-twin.invalid/" + f.Name},
				"Tags": nonNil(f.Tags)}
		}
		s.mu.Unlock()
		answer(w, http.StatusOK, out, err)
	case m[2] == "" && r.Method == http.MethodDelete:
		if err := s.delete(name); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case m[2] == "/configuration" && r.Method == http.MethodGet:
		s.mu.Lock()
		f, err := s.findLocked(name)
		var out any
		if err == nil {
			out = configOf(f)
		}
		s.mu.Unlock()
		answer(w, http.StatusOK, out, err)
	case m[2] == "/configuration" && r.Method == http.MethodPut:
		serveInput(w, r, http.StatusOK, func(in createInput) (any, error) { return s.updateConfig(name, in) })
	case m[2] == "/code" && r.Method == http.MethodPut:
		serveInput(w, r, http.StatusOK, func(in codeInput) (any, error) { return s.updateCode(name, in) })
	case m[2] == "/invocations" && r.Method == http.MethodPost:
		s.serveInvoke(w, r, name)
	default:
		writeError(w, awswire.NotFoundf("UnknownOperationException", "The twin's Lambda does not serve %s %s", r.Method, r.URL.Path))
	}
}

type createInput struct {
	FunctionName  string
	Runtime       string
	Role          string
	Handler       string
	Description   *string
	Timeout       *int
	MemorySize    *int
	Architectures []string
	PackageType   string
	Environment   *struct{ Variables map[string]string }
	Tags          map[string]string
	Code          *struct{ ZipFile []byte }
}

type codeInput struct {
	ZipFile       []byte
	Architectures []string
	Publish       bool
}

func (s *Service) create(in createInput) (any, error) {
	if !nameRE.MatchString(in.FunctionName) {
		return nil, awswire.Errorf("InvalidParameterValueException", "1 validation error detected: Value '%s' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+", in.FunctionName)
	}
	if in.PackageType != "" && in.PackageType != "Zip" {
		return nil, awswire.Errorf("InvalidParameterValueException", "The twin's Lambda takes only PackageType Zip")
	}
	if in.Code == nil || len(in.Code.ZipFile) == 0 {
		return nil, awswire.Errorf("InvalidParameterValueException", "Please provide a source for function code (the twin takes Code.ZipFile).")
	}
	f := &Function{Name: in.FunctionName, Timeout: 3, MemorySize: 128, Architectures: []string{"x86_64"}, Tags: in.Tags}
	if err := s.applyConfig(f, in); err != nil {
		return nil, err
	}
	if f.Runtime == "" || f.Role == "" {
		return nil, awswire.Errorf("InvalidParameterValueException", "Runtime and Role are required for a Zip function.")
	}
	if len(in.Architectures) > 0 {
		if err := checkArch(in.Architectures); err != nil {
			return nil, err
		}
		f.Architectures = in.Architectures
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.st.Functions[f.Name]; ok {
		return nil, &awswire.Error{Code: "ResourceConflictException", Message: "Function already exist: " + f.Name, Status: http.StatusConflict}
	}
	if err := s.storeCode(f, in.Code.ZipFile); err != nil {
		return nil, err
	}
	s.st.Functions[f.Name] = f
	return configOf(f), s.save()
}

func checkArch(a []string) error {
	if len(a) != 1 || (a[0] != "x86_64" && a[0] != "arm64") {
		return awswire.Errorf("InvalidParameterValueException", "Architectures must be exactly one of x86_64, arm64")
	}
	return nil
}

// applyConfig sets the configuration members that were sent.
func (s *Service) applyConfig(f *Function, in createInput) error {
	if in.Runtime != "" {
		if in.Runtime != "provided.al2023" && in.Runtime != "provided.al2" {
			return awswire.Errorf("InvalidParameterValueException", "The runtime parameter of %s is not supported by the twin: it runs OS-only runtimes (provided.al2023, provided.al2), whose bootstrap it starts.", in.Runtime)
		}
		f.Runtime = in.Runtime
	}
	if in.Role != "" {
		if !strings.HasPrefix(in.Role, "arn:aws:iam::") || (s.o.RoleExists != nil && !s.o.RoleExists(in.Role)) {
			return awswire.Errorf("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
		}
		f.Role = in.Role
	}
	if in.Handler != "" {
		f.Handler = in.Handler
	}
	if in.Description != nil {
		f.Description = *in.Description
	}
	if in.Timeout != nil {
		if *in.Timeout < 1 || *in.Timeout > 900 {
			return awswire.Errorf("InvalidParameterValueException", "Timeout must be between 1 and 900 seconds")
		}
		f.Timeout = *in.Timeout
	}
	if in.MemorySize != nil {
		if *in.MemorySize < 128 || *in.MemorySize > 10240 {
			return awswire.Errorf("InvalidParameterValueException", "MemorySize must be between 128 and 10240 MB")
		}
		f.MemorySize = *in.MemorySize
	}
	if in.Environment != nil {
		for k := range in.Environment.Variables {
			if reservedEV[k] {
				return awswire.Errorf("InvalidParameterValueException", "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: %s", k)
			}
		}
		f.Env = in.Environment.Variables
	}
	return nil
}

// storeCode writes the zip and sets the code's hash, size, modification time and revision; callers hold mu.
func (s *Service) storeCode(f *Function, zip []byte) error {
	if !bytes.HasPrefix(zip, []byte("PK")) {
		return awswire.Errorf("InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again.")
	}
	dir := s.fnDir(f.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return awswire.Internal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "code.zip"), zip, 0o644); err != nil {
		return awswire.Internal(err)
	}
	sum := sha256.Sum256(zip)
	f.CodeSha256 = base64.StdEncoding.EncodeToString(sum[:])
	f.CodeSize = int64(len(zip))
	s.touch(f)
	return nil
}

func (s *Service) touch(f *Function) {
	f.LastModified = s.now().UTC()
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	f.RevisionID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (s *Service) updateConfig(name string, in createInput) (any, error) {
	s.mu.Lock()
	f, err := s.findLocked(name)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	nf := *f
	if err := s.applyConfig(&nf, in); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.touch(&nf)
	*f = nf
	sb := s.sandboxes[f.Name]
	delete(s.sandboxes, f.Name)
	out, err := configOf(f), s.save()
	s.mu.Unlock()
	if sb != nil {
		sb.stop()
	}
	return out, err
}

func (s *Service) updateCode(name string, in codeInput) (any, error) {
	if len(in.ZipFile) == 0 {
		return nil, awswire.Errorf("InvalidParameterValueException", "Please provide a source for function code (the twin takes ZipFile).")
	}
	if len(in.Architectures) > 0 {
		if err := checkArch(in.Architectures); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	f, err := s.findLocked(name)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if err := s.storeCode(f, in.ZipFile); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	if len(in.Architectures) > 0 {
		f.Architectures = in.Architectures
	}
	sb := s.sandboxes[f.Name]
	delete(s.sandboxes, f.Name)
	out, err := configOf(f), s.save()
	s.mu.Unlock()
	if sb != nil {
		sb.stop()
	}
	return out, err
}

func (s *Service) delete(name string) error {
	s.mu.Lock()
	f, err := s.findLocked(name)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	delete(s.st.Functions, f.Name)
	sb := s.sandboxes[f.Name]
	delete(s.sandboxes, f.Name)
	err = s.save()
	s.mu.Unlock()
	if sb != nil {
		sb.stop()
	}
	_ = os.RemoveAll(filepath.Join(s.fnDir(f.Name), "code.zip"))
	_ = os.RemoveAll(filepath.Join(s.fnDir(f.Name), "task"))
	return err
}

// findLocked finds a function by name, ARN or partial ARN.
func (s *Service) findLocked(id string) (*Function, error) {
	name := id
	if i := strings.LastIndex(id, ":function:"); i >= 0 {
		name = id[i+len(":function:"):]
		if j := strings.IndexByte(name, ':'); j >= 0 {
			name = name[:j]
		}
	}
	if f, ok := s.st.Functions[name]; ok {
		return f, nil
	}
	return nil, awswire.NotFoundf("ResourceNotFoundException", "Function not found: arn:aws:lambda:%s:%s:function:%s", awswire.Region, awswire.Account, name)
}

type config struct {
	FunctionName     string
	FunctionArn      string
	Runtime          string
	Role             string
	Handler          string
	CodeSize         int64
	Description      string
	Timeout          int
	MemorySize       int
	LastModified     string
	CodeSha256       string
	Version          string
	Environment      *struct{ Variables map[string]string } `json:",omitempty"`
	RevisionId       string
	State            string
	LastUpdateStatus string
	PackageType      string
	Architectures    []string
	EphemeralStorage struct{ Size int }
}

func configOf(f *Function) config {
	c := config{FunctionName: f.Name, FunctionArn: f.ARN(), Runtime: f.Runtime, Role: f.Role, Handler: f.Handler,
		CodeSize: f.CodeSize, Description: f.Description, Timeout: f.Timeout, MemorySize: f.MemorySize,
		LastModified: f.LastModified.Format("2006-01-02T15:04:05.000-0700"), CodeSha256: f.CodeSha256, Version: "$LATEST",
		RevisionId: f.RevisionID, State: "Active", LastUpdateStatus: "Successful", PackageType: "Zip", Architectures: f.Architectures}
	c.EphemeralStorage.Size = 512
	if len(f.Env) > 0 {
		c.Environment = &struct{ Variables map[string]string }{Variables: f.Env}
	}
	return c
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func decode(r *http.Request, v any) error {
	r.Body = http.MaxBytesReader(nil, r.Body, 70<<20)
	return awswire.DecodeJSON(r.Body, v)
}

// serveInput decodes the request body into an In and answers with what op makes of it.
func serveInput[In any](w http.ResponseWriter, r *http.Request, status int, op func(In) (any, error)) {
	var in In
	if err := decode(r, &in); err != nil {
		writeError(w, err)
		return
	}
	out, err := op(in)
	answer(w, status, out, err)
}

// answer writes out with status, or err when there is one.
func answer(w http.ResponseWriter, status int, out any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		writeError(w, awswire.Internal(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", awswire.RequestID())
	w.WriteHeader(status)
	_, _ = w.Write(out)
}

// writeError answers as Lambda does: X-Amzn-ErrorType and {"Type": "User", "Message": …}.
func writeError(w http.ResponseWriter, err error) {
	e := awswire.AsError(err)
	typ := "User"
	if e.Receiver {
		typ = "Service"
	}
	out, _ := json.Marshal(map[string]string{"Type": typ, "Message": e.Message, "message": e.Message})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", awswire.RequestID())
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(out)
}
