package e2e

import "os/exec"

func execCairn(w *world, extraEnv []string, args ...string) *exec.Cmd {
	cmd := exec.Command(w.bin, args...)
	cmd.Env = append(append([]string(nil), w.env...), extraEnv...)
	return cmd
}
