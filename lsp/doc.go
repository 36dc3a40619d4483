// Package lsp is goflyte's language server: `goflyte lsp` speaks the
// Language Server Protocol over stdin and stdout, for any editor.
//
// # What it offers
//
//   - Diagnostics: exactly what `goflyte validate` reports for a file,
//     through the same calls (config.Parser.LoadWorkflowSource, then
//     engine.Engine.ValidateFile), published debounced as the user types.
//     The message is validate's summary and detail.
//   - Completion of `uses` (every installed plugin task, with its doc,
//     and workflow.<name>), of the keys of `inputs = { }` (exactly the
//     task's inputs not written yet), of references after input., task.,
//     task.<name>., branch.<name>., each. (filtered by the type the task
//     input wants), of block and attribute names, and of input types.
//   - Hover (a task's doc and schema on uses, an input's type and doc on
//     its key, a reference's type), go to definition and references
//     (also for workflow.<name> in other files of sdk.workflow_packages),
//     the outline (document symbols), semantic tokens and formatting
//     (hclwrite.Format, as goflyte fmt).
//
// # Plugins
//
// The server loads flyte.hcl as every command does (--config,
// FLYTE_CONFIG, then flyte.hcl in the client's workspace folder, then the
// user config dir) and finds plugins in sdk.plugin_dirs. Each binary is
// started once, asked to Describe itself, and ended; its schema (or the
// error) is kept by path and SHA-256 (plugins.go). Every second the
// server stats the binaries; one whose size or time changed is hashed,
// and a new hash is described again, so a plugin rebuilt during a session
// is picked up within about a second, with no notification from the
// editor. The engine compiles against an engine.Plugins registry whose
// providers answer Describe from that cache, so a missing, broken or
// untrusted plugin gives validate's own diagnostic, never a crash.
//
// # Design choices
//
// The protocol layer is a small JSON-RPC 2.0 implementation on the
// standard library (jsonrpc.go, protocol.go) rather than
// go.lsp.dev/protocol and jsonrpc2: the server needs one connection, a
// dozen message types and the lifecycle rules (shutdown answers null;
// exit without shutdown ends with code 1; positions in UTF-16), which
// are shorter to own and test than to adapt, and it saves a minute of
// cold build for every developer.
//
// Completion, hover, navigation and semantic tokens read the file's
// tokens (syntax.go) rather than going through hashicorp/hcl-lang, which
// the issue suggested. hcl-lang's model is Terraform's: one schema per
// body, references collected per module path, types from a static
// schema. goflyte's language fights it on each point: names are scoped
// per workflow (two workflows in one file may both have a task "split")
// and per branch arm (a task inside an arm is invisible outside it);
// each.key and each.value exist only in a task with for_each; a task's
// output types depend on its for_each (lists or maps) and a branch's on
// all its arms, which only the engine's compiler knows; and the value of
// `uses` is a string that selects the schema of its sibling `inputs`.
// Reading tokens also keeps working while the file does not parse, which
// is most of the time while typing (`task.`, an unclosed string). Types
// come from the engine: from the last compiled graph of the document
// (engine.Graph), and from the plugin schemas with engine.ParseType
// before it compiles. Type filtering uses the engine's conversion rule.
package lsp
