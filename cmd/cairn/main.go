// Command cairn walks an engineer through database maintenance runbooks step by step.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cairn-runbooks/cairn/internal/cmd/root"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
)

func main() {
	os.Exit(run())
}

func run() int {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	f := &cmdutil.Factory{IO: cmdutil.System(os.Getenv), Getenv: os.Getenv, Executable: exe}
	cmd := root.NewCmdRoot(f)
	err = cmd.ExecuteContext(context.Background())
	if err == nil {
		return exitcode.OK
	}
	var ec *exitcode.Err
	if errors.As(err, &ec) {
		if ec.Err != nil {
			fmt.Fprintln(os.Stderr, "cairn:", ec.Err)
		}
		return ec.Code
	}
	fmt.Fprintln(os.Stderr, "cairn:", err)
	if cmdutil.IsUsage(err) {
		return exitcode.Usage
	}
	return exitcode.Error
}
