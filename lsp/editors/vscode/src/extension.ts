// VS Code client for `cga lsp`.
//
// Completions need little code here: vscode-languageclient speaks LSP 3.18, so
// the server's inlineCompletionProvider becomes VS Code ghost text and its
// completionProvider the suggestion popup. This file starts the server, passes
// it its settings (and only its own), shows the model's state in the status
// bar (a click turns completions off and on), and turns the refinement
// commands into editor commands with an input box for the instruction. The
// server answers those with workspace/applyEdit, which Ctrl+Z undoes. Where the
// cursor comes to rest is sent to the server (cga/cursorRested), which reads the
// code before it while the user looks at it.

import * as vscode from "vscode";
import {
  ClientCapabilities,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  StaticFeature,
} from "vscode-languageclient/node";

// The settings the server reads (lsp/settings.py); the other cga.* settings are the client's own.
const SERVER_SETTINGS = [
  "model",
  "device",
  "threads",
  "gpuLayers",
  "contextTokens",
  "maxTokens",
  "debounceMs",
  "disabledLanguages",
  "completeSecretFiles",
  "confidenceCut",
  "blockTimeLimitMs",
  "projectContextTokens",
  "refineInBackground",
  "remoteUrl",
] as const;

interface Status {
  state: "loading" | "ready" | "generating" | "error";
  model: string | null;
  message: string;
}

/** How long the cursor stays put before the server is told where it rests. */
const REST_MS = 300;

let client: LanguageClient | undefined;
let statusItem: vscode.StatusBarItem;
let lastStatus: Status = { state: "loading", model: null, message: "starting the language server" };

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration("cga");
}

function enabled(): boolean {
  return config().get<boolean>("enable", true);
}

/** The server's settings, from cga.* (with this manifest's defaults for those the user did not set). */
function serverSettings(): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  for (const key of SERVER_SETTINGS) {
    const value = config().get(key);
    if (value !== undefined) settings[key] = value;
  }
  return settings;
}

function showStatus(): void {
  const model = lastStatus.model ?? "";
  if (!enabled()) {
    statusItem.text = "$(circle-slash) cga: off";
    statusItem.tooltip = "CodeGen Assistant: completions are off. Click to turn them on.";
  } else if (lastStatus.state === "error") {
    statusItem.text = "$(error) cga";
    statusItem.tooltip = `CodeGen Assistant: ${lastStatus.message}`;
  } else {
    const icon = { loading: "$(sync~spin)", generating: "$(loading~spin)", ready: "$(check)" }[lastStatus.state];
    statusItem.text = `${icon} cga${model ? `: ${model}` : ""}`;
    const state = lastStatus.state === "loading" ? `loading ${lastStatus.message}`.trim() : lastStatus.state;
    statusItem.tooltip = `CodeGen Assistant: ${state}. Click to turn completions off.`;
  }
  statusItem.show();
}

/** Asks the server for cga/status (capabilities.experimental.cgaStatus), which it sends only to a client that
 * asks: another client would warn of an unknown notification at every suggestion. */
const statusFeature: StaticFeature = {
  fillClientCapabilities(capabilities: ClientCapabilities): void {
    const experimental: object =
      typeof capabilities.experimental === "object" && capabilities.experimental !== null
        ? (capabilities.experimental as object)
        : {};
    capabilities.experimental = { ...experimental, cgaStatus: true };
  },
  initialize(): void {},
  getState: () => ({ kind: "static" }),
  clear(): void {},
};

function createClient(): LanguageClient {
  const [command, ...args] = config().get<string[]>("command", ["cga", "lsp"]);
  const serverOptions: ServerOptions = { command, args };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file" }, { scheme: "untitled" }],
    initializationOptions: serverSettings(),
    outputChannelName: "CodeGen Assistant",
    middleware: {
      provideInlineCompletionItems: (document, position, context, token, next) =>
        enabled() ? next(document, position, context, token) : undefined,
      provideCompletionItem: (document, position, context, token, next) =>
        enabled() ? next(document, position, context, token) : undefined,
    },
  };
  const client = new LanguageClient("cga", "CodeGen Assistant", serverOptions, clientOptions);
  client.registerFeature(statusFeature);
  return client;
}

interface CommandResult {
  applied?: boolean;
  error?: string;
}

/** Tells the server where the cursor came to rest (moved by a click, the arrows or a jump, not by typing:
 * the requests that typing makes read their own window), so that the first suggestion there is not a cold one:
 * on two CPU cores a 2,000-token window takes 10 s to read. */
function cursorRests(): vscode.Disposable {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const versions = new Map<string, number>(); // each document's version at its last selection change
  const listener = vscode.window.onDidChangeTextEditorSelection((event) => {
    const document = event.textEditor.document;
    const uri = document.uri.toString();
    const typed = versions.has(uri) && versions.get(uri) !== document.version; // an edit moved the cursor
    versions.set(uri, document.version);
    if (timer) clearTimeout(timer);
    timer = undefined;
    const selection = event.selections[0];
    if (typed || !selection?.isEmpty || !enabled() || !["file", "untitled"].includes(document.uri.scheme)) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (!client?.isRunning() || document.version !== versions.get(uri)) return;
      void client.sendNotification("cga/cursorRested", {
        textDocument: { uri },
        position: client.code2ProtocolConverter.asPosition(selection.active),
      });
    }, REST_MS);
  });
  const closed = vscode.workspace.onDidCloseTextDocument((document) => versions.delete(document.uri.toString()));
  return new vscode.Disposable(() => {
    if (timer) clearTimeout(timer);
    listener.dispose();
    closed.dispose();
  });
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
  // A failure (result.error) was already shown by the server with window/showMessage.
  if (result && !result.error && result.applied === false) {
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
  statusItem = vscode.window.createStatusBarItem("cga.status", vscode.StatusBarAlignment.Right, 100);
  statusItem.name = "CodeGen Assistant";
  statusItem.command = "codegenAssistant.toggle";
  showStatus();

  context.subscriptions.push(
    statusItem,
    cursorRests(),
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
    vscode.commands.registerCommand("codegenAssistant.toggle", async () => {
      await config().update("enable", !enabled(), vscode.ConfigurationTarget.Global);
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("cga.enable")) showStatus();
      if (client?.isRunning() && SERVER_SETTINGS.some((key) => event.affectsConfiguration(`cga.${key}`))) {
        void client.sendNotification(DidChangeConfigurationNotification.type, { settings: { cga: serverSettings() } });
      }
    }),
    client.onNotification("cga/status", (status: Status) => {
      lastStatus = status;
      showStatus();
    }),
  );

  try {
    await client.start();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    lastStatus = { state: "error", model: null, message: `could not start the language server: ${reason}` };
    showStatus();
    vscode.window.showErrorMessage(
      `CodeGen Assistant could not start "${config().get<string[]>("command")?.join(" ")}": ` +
        `${reason}. Install it with "pip install codegen-assistant" or set cga.command.`,
    );
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
