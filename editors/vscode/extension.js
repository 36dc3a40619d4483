// The goflyte extension starts `goflyte lsp` for the HCL files of a
// workspace that has a flyte.hcl (see package.json's activationEvents):
// everything else (diagnostics, completion, hover, definition,
// references, outline, semantic tokens, formatting) comes from the server.
'use strict';

const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

async function activate(context) {
  const settings = vscode.workspace.getConfiguration('goflyte');
  const command = settings.get('path', 'goflyte');
  const args = ['lsp', ...settings.get('args', [])];
  const folder = vscode.workspace.workspaceFolders && vscode.workspace.workspaceFolders[0];
  const serverOptions = {
    command,
    args,
    // flyte.hcl is found from the working directory, as for every command.
    options: folder ? { cwd: folder.uri.fsPath } : {},
  };
  const clientOptions = {
    documentSelector: [{ scheme: 'file', language: 'hcl' }],
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher('**/{flyte.hcl,goflyte.lock.hcl}'),
    },
  };
  client = new LanguageClient('goflyte', 'goflyte', serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand('goflyte.restartServer', () => client.restart()),
  );
  await client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
