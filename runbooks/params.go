package runbooks

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/ref"
)

// Values are resolved parameter values by name.
type Values map[string]ref.Value

// Lookup resolves ${params.x} against the values.
func (v Values) Lookup(r ref.Ref) (ref.Value, bool) {
	if r.Scope != ref.Params {
		return ref.Value{}, false
	}
	x, ok := v[r.Name]
	return x, ok
}

// Plain returns the values for display and the journal: secrets as ••••.
func (v Values) Plain() map[string]string {
	out := map[string]string{}
	for k, x := range v {
		if x.Secret {
			out[k] = "••••"
		} else {
			out[k] = x.S
		}
	}
	return out
}

// Display is parameter p's value as a plan shows it: a secret as ••••, a value nobody gave as
// "(not set)" — for a secret, with the variable it is read from; for `region`, with where the AWS
// SDK takes it from instead — never a blank or a •••• standing for nothing.
func (v Values) Display(p *Param) string {
	x := v[p.Name]
	switch {
	case x.S == "" && p.Secret && p.Env != "":
		return "(not set: $" + p.Env + " is empty)"
	case x.S == "" && p.Name == "region":
		return "(not set: the AWS configuration's default — AWS_REGION or the profile's region)"
	case x.S == "" && !x.IsList():
		return "(not set)"
	case x.Secret:
		return "••••"
	}
	return x.S
}

// ParseAssignments parses -p key=value flags. A key given twice is an error, as is a missing '='.
func ParseAssignments(args []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("-p %q: write -p name=value", a)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("-p %s given twice: give each parameter once", k)
		}
		out[k] = v
	}
	return out, nil
}

// CheckValue checks a value against a parameter's type, enum and pattern. Every value is one line
// of printable text: it is pasted into config files, command lines, plans and reports, where a line
// break would add a line of its own and a control character could rewrite the terminal.
func CheckValue(p *Param, s string) error {
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%q holds a line break (CR or LF) or a NUL: a parameter's value is one line", s)
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f || r >= 0x80 && r < 0xa0 }); i >= 0 {
		return fmt.Errorf("%q holds the control character %U: a parameter's value is printable text", s, []rune(s[i:])[0])
	}
	switch p.Type {
	case TInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		if p.Min != nil && n < *p.Min {
			return fmt.Errorf("%d is less than %d: give -p %s=%d or more", n, *p.Min, p.Name, *p.Min)
		}
	case TDir:
		if err := checkDir(p, s); err != nil {
			return err
		}
	case TBool:
		if _, err := ref.ParseBool(s); err != nil {
			return err
		}
	case TDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 45m or 1h30m", s)
		}
		if d < 0 {
			return fmt.Errorf("%q is a negative duration: give 0 or more, such as 45m", s)
		}
	case TEnum:
		if !slices.Contains(p.Values, s) {
			return fmt.Errorf("%q is not one of %s", s, strings.Join(p.Values, ", "))
		}
	}
	if p.Pattern != "" {
		re, err := regexp.Compile("^(?:" + p.Pattern + ")$")
		if err == nil && !re.MatchString(s) {
			return fmt.Errorf("%q does not match the pattern %s", s, p.Pattern)
		}
	}
	return nil
}

// Sources says where secret values may come from besides the environment.
type Sources struct {
	Getenv func(string) string
	// SecretFiles maps a parameter name to a file holding its value (--secret-file name=path).
	SecretFiles map[string]string
	// Prompt asks for a secret that is still missing; nil means there is no one to ask.
	Prompt func(p *Param) (string, error)
	// PlanOnly lets secrets be missing: a plan shows them as •••• and never needs their values.
	PlanOnly bool
}

// Resolve checks the given values against the runbook's parameters, fills defaults (derived ones
// after the values they refer to), and reads secrets from their sources. Every problem is reported
// together, as diag.Diagnostics.
func Resolve(rb *Runbook, given map[string]string, src Sources) (Values, error) {
	vals := Values{}
	var errs diag.Diagnostics
	refused := map[string]bool{} // parameters whose value was refused or is missing
	byName := map[string]*Param{}
	for _, p := range rb.Parameters {
		byName[p.Name] = p
	}
	for k := range given {
		if byName[k] == nil {
			var names []string
			for _, p := range rb.Parameters {
				names = append(names, p.Name)
			}
			errs = append(errs, diag.Diagnostic{Summary: fmt.Sprintf("-p %s: runbook %s has no such parameter (it has: %s)", k, rb.Name, strings.Join(names, ", "))})
		}
	}
	for _, p := range rb.Parameters {
		s, ok := given[p.Name]
		if p.Secret {
			if ok {
				errs = append(errs, diag.Diagnostic{Summary: fmt.Sprintf("-p %s: %s is secret and is never taken from a flag; %s", p.Name, p.Name, secretHow(p))})
				continue
			}
			v, found, err := readSecret(p, src)
			if err != nil {
				errs = append(errs, diag.Diagnostic{Summary: err.Error()})
				continue
			}
			if !found {
				if src.PlanOnly {
					vals[p.Name] = ref.Value{Secret: true}
					continue
				}
				if p.Required {
					errs = append(errs, diag.Diagnostic{Summary: fmt.Sprintf("missing secret %s: %s", p.Name, secretHow(p))})
				}
				continue
			}
			vals[p.Name] = ref.Value{S: v, Secret: true}
			continue
		}
		if !ok && !p.Default.IsZero() {
			d, err := p.Default.Text(vals.Lookup)
			if err != nil && slices.ContainsFunc(p.Default.Refs(), func(r ref.Ref) bool { return refused[r.Name] }) {
				refused[p.Name] = true // its default is made of a value already refused: that is the one problem
				continue
			}
			if err != nil {
				errs = append(errs, diag.Diagnostic{Summary: fmt.Sprintf("parameter %s: default %s: %v", p.Name, p.Default.Raw, err)})
				continue
			}
			s, ok = d, true
		}
		if !ok {
			if p.Required {
				refused[p.Name] = true
				errs = append(errs, diag.Diagnostic{Summary: fmt.Sprintf("missing parameter %s: add -p %s=<value>%s", p.Name, p.Name, helpSuffix(p))})
			} else if p.Type == TBool {
				vals[p.Name] = ref.Value{S: "false"}
			}
			continue
		}
		if err := CheckValue(p, s); err != nil {
			refused[p.Name] = true
			errs = append(errs, diag.Diagnostic{Summary: fmt.Sprintf("parameter %s: %v%s", p.Name, err, helpSuffix(p))})
			continue
		}
		if p.Type == TBool {
			b, _ := ref.ParseBool(s)
			s = strconv.FormatBool(b)
		}
		vals[p.Name] = ref.Value{S: s}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return vals, nil
}

func helpSuffix(p *Param) string {
	if p.Help == "" {
		return ""
	}
	return " (" + p.Help + ")"
}

func secretHow(p *Param) string {
	var ways []string
	if p.Env != "" {
		ways = append(ways, "set the environment variable "+p.Env)
	}
	ways = append(ways, "pass --secret-file "+p.Name+"=<path to a 0600 file>", "or run on a terminal to be asked")
	return strings.Join(ways, ", ")
}

func readSecret(p *Param, src Sources) (string, bool, error) {
	if p.Env != "" && src.Getenv != nil {
		if v := src.Getenv(p.Env); v != "" {
			return v, true, nil
		}
	}
	if path, ok := src.SecretFiles[p.Name]; ok {
		st, err := os.Stat(path)
		if err != nil {
			return "", false, fmt.Errorf("secret %s: %w", p.Name, err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return "", false, fmt.Errorf("secret %s: %s is readable by others (mode %v): chmod 600 %s", p.Name, path, st.Mode().Perm(), path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", false, fmt.Errorf("secret %s: %w", p.Name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), true, nil
	}
	if src.Prompt != nil {
		v, err := src.Prompt(p)
		if err != nil {
			return "", false, fmt.Errorf("secret %s: %w", p.Name, err)
		}
		return v, v != "", nil
	}
	return "", false, nil
}
