package main

import (
	"fmt"
	"strings"
)

// expectExit fails unless the command ran and exited with want.
func expectExit(res Result, err error, want int) error {
	if err != nil {
		return err
	}
	if res.ExitCode != want {
		return fmt.Errorf("`%s` exited %d, expected %d%s", short(res.Args), res.ExitCode, want, tail(res))
	}
	return nil
}

// expectFailure fails unless the command ran and exited non-zero.
func expectFailure(res Result, err error) error {
	if err != nil {
		return err
	}
	if res.ExitCode == 0 {
		return fmt.Errorf("`%s` exited 0, expected a failure", short(res.Args))
	}
	return nil
}

// expectHeadline fails unless the last report's status line is exactly want.
func expectHeadline(res Result, want string) error {
	got, ok := Headline(res.Output())
	if !ok {
		return fmt.Errorf("no report status line (**...**) in the output of `%s`", short(res.Args))
	}
	if got != want {
		return fmt.Errorf("report status **%s**, expected **%s**", got, want)
	}
	return nil
}

// expectHeadlinePrefix fails unless the last report's status line starts with want.
func expectHeadlinePrefix(res Result, want string) error {
	got, ok := Headline(res.Output())
	if !ok {
		return fmt.Errorf("no report status line (**...**) in the output of `%s`", short(res.Args))
	}
	if !strings.HasPrefix(got, want) {
		return fmt.Errorf("report status **%s**, expected **%s...**", got, want)
	}
	return nil
}

// expectContains fails unless text holds every one of wants.
func expectContains(text string, wants ...string) error {
	var missing []string
	for _, w := range wants {
		if !strings.Contains(text, w) {
			missing = append(missing, fmt.Sprintf("%q", w))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the output does not contain %s", strings.Join(missing, ", "))
	}
	return nil
}

// short is a command line cut to its end (the function and its flags) when it is long.
func short(args []string) string {
	line := strings.Join(args, " ")
	if len(line) > 160 {
		line = args[0] + " ..." + line[len(line)-140:]
	}
	return line
}

// tail is the last lines of a failed command's error output, for the failure message.
func tail(res Result) string {
	lines := strings.Split(strings.TrimSpace(res.Stderr), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	if len(lines) == 0 || lines[0] == "" {
		return ""
	}
	return "; last lines of its error output:\n    " + strings.Join(lines, "\n    ")
}
