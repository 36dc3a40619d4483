// Package plugin is the contract between the goflyte engine (the host) and a
// task plugin: the go-plugin [Handshake], the [Provider] interface that both
// sides speak, the request and result types, the gRPC adapters that carry
// them, and [Launch], which starts a plugin binary as a subprocess.
//
// The engine sees a plugin as an ordinary Go interface: [Client] implements
// [Provider], and gRPC is an implementation detail underneath. On the plugin
// side the sdk package builds a [Provider] from plain Go functions and hands
// it to [Serve].
//
// Plugin binaries link this package, so it must stay small: it never imports
// the engine, the sdk or the secrets backends.
//
// # Values
//
// Inputs and outputs cross the wire as JSON objects keyed by name. Their
// types are declared in [Field.Type] as HCL type expressions (string, number,
// bool, any, list(T), map(T), set(T), object({name=T,...})). The engine
// evaluates expressions and checks types before it calls Execute; the plugin
// decodes plain JSON.
//
// # Errors
//
// Execute returns a [*TaskError] when the task ran and failed (check with
// errors.As). Any other error means the plugin could not be reached or its
// process failed; [Client] turns a dead process into a [*ProcessError] that
// carries the tail of the plugin's stderr.
package plugin
