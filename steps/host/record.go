package host

import (
	"encoding/json"
	"fmt"

	"github.com/cairn-runbooks/cairn/steps"
)

// loadRecord reads a step's JSON record from the run's work directory (steps.Env.ReadRecord); ok
// is false when there is none.
func loadRecord(env *steps.Env, name string, v any) (bool, error) {
	b, ok, err := env.ReadRecord("host", name+".json")
	if !ok || err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		p, _ := env.RecordPath("host", name+".json")
		return false, fmt.Errorf("record %s: %w", p, err)
	}
	return true, nil
}

// saveRecord writes a step's JSON record.
func saveRecord(env *steps.Env, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := env.WriteRecord("host", name+".json", b); err != nil {
		return fmt.Errorf("record original state: %w", err)
	}
	return nil
}

func removeRecord(env *steps.Env, name string) { env.RemoveRecord("host", name+".json") }
