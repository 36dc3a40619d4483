package plugin

import "fmt"

// ValidName reports, with a reason, whether name can name a plugin: the
// part of a task's uses before the dot ("<plugin>.<task>") and the end of
// its binary's file name (BinaryPrefix + name). The rule is the one
// workflows apply to their own names: ASCII letters, digits, underscores
// and dashes, starting with a letter. (A dot would split uses in the wrong
// place; a slash or a space cannot be in a file name that goflyte finds.)
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("a plugin name must not be empty")
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '_' || r == '-'):
		default:
			return fmt.Errorf("%q is not a valid plugin name: use letters, digits, underscores and dashes, starting with a letter", name)
		}
	}
	return nil
}
