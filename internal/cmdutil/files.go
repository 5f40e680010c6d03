package cmdutil

import "github.com/spf13/cobra"

// fileFlag is the root's persistent flag that adds runbooks to the built-in catalog.
const fileFlag = "file"

// AddFileFlag declares --file on the root command, for it and every verb under it.
func AddFileFlag(root *cobra.Command) {
	root.PersistentFlags().StringArray(fileFlag, nil, "also load the runbook in this YAML `file` (repeatable)")
}

// RunbookFiles are the --file runbooks given to cmd (or to the root above it).
func RunbookFiles(cmd *cobra.Command) []string {
	files, _ := cmd.Flags().GetStringArray(fileFlag)
	if len(files) == 0 {
		return nil
	}
	return files
}
