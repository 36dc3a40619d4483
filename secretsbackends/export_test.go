package secretsbackends

// Hooks for the external tests (package secretsbackends_test).

// NoTerminal makes k behave as on a machine without a terminal.
var NoTerminal = noTerminal

// KeyctlCheck reports whether the kernel allows keyctl here.
var KeyctlCheck = keyctlCheck
