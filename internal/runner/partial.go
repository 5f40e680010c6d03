package runner

import "sort"

// A step whose apply started and did not end verified — its apply or verify failed, the engineer
// skipped it after that, or the runner was stopped mid-apply — may have changed part of what it
// describes. The runner keeps it as partially applied (rebuilt from the journal on resume: a
// step.applying with no step.verified or step.rolled-back after it), so the failure menu's "Roll
// back" and `cairn rollback` undo it too, newest first, before the steps this run applied. A step
// that failed in its check, only reads, or whose apply failed saying it changed nothing
// (steps.Unchanged) is not among them.

// applying records that key's apply started (in this run or, replayed, an earlier runner's).
func (r *Runner) applying(key string) {
	r.order(key)
	if !r.reads[key] {
		r.fresh[key] = !r.partial[key]
		r.partial[key] = true
	}
}

// unchanged records that key's apply failed saying it changed nothing (steps.Unchanged): the step
// is not partially applied — unless an earlier attempt of it had already started changing things.
func (r *Runner) unchanged(key string) {
	if r.fresh[key] {
		delete(r.partial, key)
	}
}

// settled records that key was applied and verified by this run: undone by a roll back.
func (r *Runner) settled(key string) {
	r.done = appendOnce(r.done, key)
	if _, ok := r.began[key]; !ok {
		r.order(key)
	}
}

// order gives key's latest apply its place in the run.
func (r *Runner) order(key string) {
	r.began[key] = maxOrder(r.began) + 1
}

func maxOrder(m map[string]int) int {
	n := 0
	for _, v := range m {
		n = max(n, v)
	}
	return n
}

// undoStep is one step a step-by-step roll back walks back.
type undoStep struct {
	key string
	// partial: its apply started and did not end verified; its Rollback undoes what exists.
	partial bool
}

// label is the step as a roll back names it.
func (u undoStep) label() string {
	if u.partial {
		return u.key + " (partially applied)"
	}
	return u.key
}

// undoable is what a step-by-step roll back walks back, newest first: the steps this run applied
// and those it applied partially, in the reverse order of their applies.
func (r *Runner) undoable() []undoStep {
	var out []undoStep
	for _, k := range r.done {
		out = append(out, undoStep{key: k})
	}
	for _, k := range r.partialKeys() {
		out = append(out, undoStep{key: k, partial: true})
	}
	sort.SliceStable(out, func(i, j int) bool { return r.began[out[i].key] > r.began[out[j].key] })
	return out
}

// partialKeys are the partially applied steps, oldest first.
func (r *Runner) partialKeys() []string {
	var out []string
	for k := range r.partial {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return r.began[out[i]] < r.began[out[j]] })
	return out
}

func labels(us []undoStep) string {
	var out []string
	for _, u := range us {
		out = append(out, u.label())
	}
	return joinList(out)
}
