package host

import "strings"

// safeChars never need quoting. '=' is not among them: a leading A=1 is an
// assignment to the shell, not a command or an argument.
const safeChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,+@%"

// reservedWords are parsed as syntax, not as a command, where a command may
// start; the quoted text can land there, so they are always quoted. Those
// of bash and ksh are included: a user's login shell need not be POSIX sh.
var reservedWords = map[string]bool{
	"case": true, "do": true, "done": true, "elif": true, "else": true, "esac": true,
	"fi": true, "for": true, "if": true, "in": true, "then": true, "until": true, "while": true,
	"function": true, "select": true, "time": true, "coproc": true,
}

// ShellQuote quotes argv for a POSIX shell so each argument arrives intact,
// as a plain word wherever it lands in a command line.
func ShellQuote(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, safeChars) == "" && !reservedWords[a] {
			quoted[i] = a
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
