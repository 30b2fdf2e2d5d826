// VS Code client for `cga lsp`.
//
// Completions need no code here: vscode-languageclient 10 speaks LSP 3.18, so
// the server's inlineCompletionProvider becomes VS Code ghost text and its
// completionProvider the suggestion popup. This file starts the server, passes
// the settings, and turns the refinement commands into editor commands with an
// input box for the instruction. The server answers them with
// workspace/applyEdit, which the client applies (and which Ctrl+Z undoes).

import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

interface CommandResult {
  applied?: boolean;
  error?: string;
  turns?: number;
}

/** The server's initializationOptions, from the `cga.*` settings. */
function serverSettings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration("cga");
  return {
    model: config.get<string | null>("model") || null,
    device: config.get<string>("device", "auto"),
    threads: config.get<number | null>("threads") ?? null,
    contextTokens: config.get<number>("contextTokens", 1536),
    maxTokens: config.get<number>("maxTokens", 64),
    debounceMs: config.get<number>("debounceMs", 0),
    disabledLanguages: config.get<string[]>("disabledLanguages", []),
  };
}

function createClient(): LanguageClient {
  const [command, ...args] = vscode.workspace
    .getConfiguration("cga")
    .get<string[]>("command", ["cga", "lsp"]);
  const serverOptions: ServerOptions = { command, args };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    initializationOptions: serverSettings(),
    outputChannelName: "CodeGen Assistant",
    // Sends {cga: {...}} in workspace/didChangeConfiguration whenever a cga.* setting changes.
    synchronize: { configurationSection: "cga" },
  };
  return new LanguageClient("cga", "CodeGen Assistant", serverOptions, clientOptions);
}

async function runServerCommand(name: string, args: unknown[]): Promise<void> {
  if (!client) {
    vscode.window.showErrorMessage("CodeGen Assistant: the language server is not running.");
    return;
  }
  const result = (await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: "CodeGen Assistant: thinking…" },
    () => client!.sendRequest(ExecuteCommandRequest.type, { command: name, arguments: args }),
  )) as CommandResult | null;
  if (result?.error) {
    vscode.window.showWarningMessage(`CodeGen Assistant: ${result.error}`);
  } else if (result && result.applied === false) {
    vscode.window.showWarningMessage("CodeGen Assistant: the editor did not apply the change.");
  }
}

function activeDocument(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    vscode.window.showInformationMessage("CodeGen Assistant: open a file first.");
  }
  return editor;
}

async function askInstruction(prompt: string): Promise<string | undefined> {
  const instruction = await vscode.window.showInputBox({
    prompt,
    placeHolder: "e.g. handle an empty list; add type hints; use a generator",
  });
  return instruction?.trim() || undefined;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  client = createClient();
  const uriOf = (editor: vscode.TextEditor) => editor.document.uri.toString();

  context.subscriptions.push(
    vscode.commands.registerCommand("codegenAssistant.refine", async () => {
      const editor = activeDocument();
      const instruction = editor && (await askInstruction("Refine the selection (or the function at the cursor) by…"));
      if (!editor || !instruction || !client) return;
      const range = client.code2ProtocolConverter.asRange(editor.selection);
      await runServerCommand("cga.refine", [uriOf(editor), range, instruction]);
    }),
    vscode.commands.registerCommand("codegenAssistant.followUp", async () => {
      const editor = activeDocument();
      const instruction = editor && (await askInstruction("Follow up: change it further by…"));
      if (!editor || !instruction) return;
      await runServerCommand("cga.followUp", [uriOf(editor), instruction]);
    }),
    vscode.commands.registerCommand("codegenAssistant.undo", async () => {
      const editor = activeDocument();
      if (editor) await runServerCommand("cga.undo", [uriOf(editor)]);
    }),
    vscode.commands.registerCommand("codegenAssistant.reset", async () => {
      const editor = activeDocument();
      if (editor) await runServerCommand("cga.reset", [uriOf(editor)]);
    }),
    vscode.commands.registerCommand("codegenAssistant.restart", async () => {
      await client?.restart();
    }),
  );

  try {
    await client.start();
  } catch (error) {
    vscode.window.showErrorMessage(
      `CodeGen Assistant could not start "${vscode.workspace.getConfiguration("cga").get<string[]>("command")?.join(" ")}": ` +
        `${error}. Install it with "pip install codegen-assistant" or set cga.command.`,
    );
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
