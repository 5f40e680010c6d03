package awsstep

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/steps"
)

// callOf renders an AWS call for a plan from the very input the step sends: every member that is
// set, in the SDK's field order, so the plan cannot list less (or other) than what is called.
// Members named in override are shown with the override's text instead (a password's stand-in).
func callOf(op string, in any, override map[string]string) steps.Action {
	v := reflect.ValueOf(in)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	var kv []string
	for i := 0; i < v.NumField(); i++ {
		name := v.Type().Field(i).Name
		if !v.Type().Field(i).IsExported() || strings.HasPrefix(name, "noSmithy") {
			continue
		}
		if text, ok := override[name]; ok {
			kv = append(kv, name, text)
			continue
		}
		if text, ok := memberText(v.Field(i)); ok {
			kv = append(kv, name, text)
		}
	}
	return call(op, kv...)
}

// memberText is a set member's value as a plan shows it; ok is false for an unset member.
func memberText(f reflect.Value) (string, bool) {
	switch f.Kind() {
	case reflect.Pointer:
		if f.IsNil() {
			return "", false
		}
		return fmt.Sprint(f.Elem().Interface()), true
	case reflect.Slice:
		if f.IsNil() {
			return "", false
		}
		if tags, ok := f.Interface().([]rdstypes.Tag); ok {
			var kv []string
			for _, t := range tags {
				kv = append(kv, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
			}
			return strings.Join(kv, ","), true
		}
		if ss, ok := f.Interface().([]string); ok {
			return strings.Join(ss, ","), true
		}
		return fmt.Sprint(f.Interface()), true
	case reflect.String:
		if f.String() == "" {
			return "", false
		}
		return f.String(), true
	}
	return "", false
}
