package lsp

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nvimScript drives Neovim's built-in LSP client (0.7): it starts goflyte
// lsp for the workspace, opens the file, waits for the first diagnostics
// (requests sent before them can come back empty), asks for a completion
// list and a hover, and writes what came back as JSON.
const nvimScript = `
local out = {}
local function finish(code)
  local f = io.open(%[1]q, "w")
  f:write(vim.fn.json_encode(out))
  f:close()
  vim.cmd(code == 0 and "qall!" or "cquit!")
end
local seen = false
local id = vim.lsp.start_client({
  name = "goflyte",
  cmd = { %[2]q, "lsp" },
  root_dir = %[3]q,
  handlers = {
    ["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
      if not seen and #result.diagnostics > 0 then
        seen = true
        out.diagnostics = result.diagnostics
      end
    end,
  },
})
vim.cmd("edit " .. vim.fn.fnameescape(%[4]q))
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, id)
if not vim.wait(30000, function() return seen end, 50) then
  out.error = "no diagnostics in 30 s"
  finish(1)
  return
end
local uri = vim.uri_from_bufnr(buf)
local function request(method, line, char)
  local res = vim.lsp.buf_request_sync(buf, method, { textDocument = { uri = uri }, position = { line = line, character = char } }, 10000)
  if not res or not res[id] then return nil end
  return res[id].result
end
local list = request("textDocument/completion", %[5]d, %[6]d)
out.completion = {}
if list then
  for _, item in ipairs(list.items or list) do table.insert(out.completion, item.label) end
end
local hover = request("textDocument/hover", %[7]d, %[8]d)
if hover then out.hover = hover.contents.value end
vim.lsp.stop_client(id, true)
finish(0)
`

// TestNeovim opens an example workflow with a typo in Debian's neovim,
// headless, with its built-in LSP client, and checks that the
// diagnostic, a completion list and a hover come back. It runs when nvim
// is installed, and GOFLYTE_TEST_NVIM=1 (set by make test and .ci/run)
// makes a missing nvim a failure.
func TestNeovim(t *testing.T) {
	nvim, err := exec.LookPath("nvim")
	if err != nil {
		if os.Getenv("GOFLYTE_TEST_NVIM") == "1" {
			t.Fatal("GOFLYTE_TEST_NVIM=1 but nvim is not installed (apt-get install neovim; .ci/run does)")
		}
		t.Skip("nvim is not installed; set GOFLYTE_TEST_NVIM=1 to require it")
	}
	w := newWorkspace(t, "")
	example, err := os.ReadFile(filepath.Join(repoRoot, "examples", "workflows", "wordcount.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(example), `"text.split"`, `"text.splt"`, 1)
	if src == string(example) {
		t.Fatal("wordcount.hcl has no text.split to misspell")
	}
	path := w.write("wf/wordcount.hcl", src)
	usesLine, usesChar := posOf(t, src, `uses   = "`)          // completion inside the first uses string
	hoverLine, hoverChar := posOf(t, src, `uses   = "text.co`) // hover on text.count
	outFile := filepath.Join(t.TempDir(), "out.json")
	script := filepath.Join(t.TempDir(), "test.lua")
	lua := fmt.Sprintf(nvimScript, outFile, goflyteBin, w.dir, path, usesLine, usesChar, hoverLine, hoverChar)
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", "luafile "+script)
	cmd.Dir = w.dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLYTE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	output, err := cmd.CombinedOutput()
	data, readErr := os.ReadFile(outFile)
	if err != nil || readErr != nil {
		t.Fatalf("nvim: %v %v\n%s\n%s", err, readErr, output, data)
	}
	var got struct {
		Error       string
		Diagnostics []Diagnostic
		Completion  []string
		Hover       string
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	if got.Error != "" {
		t.Fatalf("nvim: %s", got.Error)
	}
	if len(got.Diagnostics) != 1 || !strings.Contains(got.Diagnostics[0].Message, `Unknown task: Plugin "text" has no task named "splt". Did you mean "text.split"?`) {
		t.Errorf("diagnostics in nvim = %+v, want the unknown task with its suggestion", got.Diagnostics)
	}
	if d := got.Diagnostics; len(d) == 1 && d[0].Range.Start.Line != usesLine {
		t.Errorf("diagnostic on line %d, want %d", d[0].Range.Start.Line, usesLine)
	}
	has := func(label string) bool {
		for _, l := range got.Completion {
			if l == label {
				return true
			}
		}
		return false
	}
	if !has("text.split") || !has("math.add") {
		t.Errorf("completion in nvim = %v, want the plugin tasks", got.Completion)
	}
	if !strings.Contains(got.Hover, "Counts words") {
		t.Errorf("hover in nvim = %q, want text.count's doc", got.Hover)
	}
}
