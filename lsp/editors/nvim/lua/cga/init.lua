-- Neovim client for `cga lsp`, on the built-in LSP client (Neovim 0.7 and later).
--
--   require("cga").setup({ settings = { model = "codegen-350M-mono" } })
--
-- Ghost text while typing: Neovim's own (vim.lsp.inline_completion) on 0.12+,
-- the plugin's (lua/cga/ghost.lua) before. Tab accepts, <C-Right> a word,
-- <C-Down> a line, <M-]>/<M-[> show other suggestions, <C-]> dismisses.
-- The popup on <C-x><C-o> (lua/cga/popup.lua), multi-line answers included.
-- Where the cursor rests in normal mode is read ahead (lua/cga/cursor.lua).
-- Refinement commands: :CgaRefine {instruction} (on a range, or the function
-- at the cursor), :CgaFollowUp {instruction}, :CgaUndo, :CgaReset. The server
-- answers them with workspace/applyEdit, which Neovim applies (so `u` undoes).

local lsp_client = require("cga.client")

local M = {}

M.defaults = {
  cmd = { "cga", "lsp" },
  -- Filetypes that start the server; the server itself also skips settings.disabledLanguages.
  filetypes = { "python", "c", "cpp", "go", "java", "javascript", "typescript", "rust", "lua", "sh", "ruby", "php" },
  -- Sent as initializationOptions: model, device, threads, contextTokens, maxTokens, debounceMs, disabledLanguages,
  -- confidenceCut, blockTimeLimitMs, completeSecretFiles, gpuLayers, projectContextTokens, refineInBackground,
  -- remoteUrl.
  settings = {},
  -- Ghost text while typing (Neovim's own on 0.12+, the plugin's before). false: popup only (<C-x><C-o>).
  ghost = {
    debounce_ms = 75,
    -- Insert-mode keys; each keeps its usual meaning when no suggestion is shown. false: leave unmapped.
    keys = {
      accept = "<Tab>",
      accept_word = "<C-Right>",
      accept_line = "<C-Down>",
      next = "<M-]>",
      prev = "<M-[>",
      dismiss = "<C-]>",
    },
  },
}

M.config = vim.deepcopy(M.defaults)

local function notify(message, level)
  vim.notify("cga: " .. message, level or vim.log.levels.INFO)
end

--- The cga client attached to bufnr, if any.
M.client = lsp_client.get

--- Accept Neovim 0.12's inline item at the cursor. Its own accept puts the item on the range it came with, even
--- when the user has typed the item's beginning since (the answer to that keystroke still on its way): the typed
--- characters ended up after it ("if" then Tab saved "if n == 0:if"). Only the rest goes in here.
local function accept_item(item)
  local text, range = item.insert_text, item.range
  local row, col = unpack(vim.api.nvim_win_get_cursor(0))
  row = row - 1
  local line = vim.api.nvim_get_current_line()
  local rest
  if type(text) == "string" and range and range.start.row == row and range.end_.row == row
      and range.start.col <= col then
    local written = line:sub(range.start.col + 1, col) -- what the item replaces, and what was typed since
    if text:sub(1, #written) == written and range.end_.col <= col then
      rest = text:sub(#written + 1)
    end
  end
  if rest == nil then
    if type(text) == "string" and range then -- what Neovim itself does
      vim.api.nvim_buf_set_text(0, range.start.row, range.start.col, range.end_.row, range.end_.col,
        vim.split(text, "\n", { plain = true }))
      return
    end
    return vim.api.nvim_paste(type(text) == "string" and text or text.value, false, 0)
  end
  local lines = vim.split(rest, "\n", { plain = true })
  vim.api.nvim_buf_set_text(0, row, col, row, col, lines)
  vim.api.nvim_win_set_cursor(0, { row + #lines, (#lines == 1 and col or 0) + #lines[#lines] })
end

local function enable_ghost_text(bufnr)
  if not M.config.ghost then
    return
  end
  if vim.lsp.inline_completion and vim.lsp.inline_completion.enable then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    -- Neovim asks when the cursor moves in insert mode; keys typed while the server was starting moved it
    -- before anyone listened, so that suggestion would wait for one more key.
    vim.schedule(function()
      if vim.api.nvim_get_current_buf() == bufnr and vim.api.nvim_get_mode().mode == "i" then
        vim.api.nvim_exec_autocmds("CursorMovedI", { buffer = bufnr, modeline = false })
      end
    end)
    local accept = M.config.ghost.keys.accept
    if accept then
      vim.keymap.set("i", accept, function()
        if not vim.lsp.inline_completion.get({ on_accept = accept_item }) then
          return accept
        end
      end, { buffer = bufnr, expr = true, replace_keycodes = true, desc = "cga: accept the inline suggestion" })
    end
  else
    require("cga.ghost").enable(bufnr, M.config.ghost)
  end
end

--- Start (or reuse) the server for bufnr and attach it.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local config = {
    name = "cga",
    cmd = M.config.cmd,
    root_dir = vim.fn.getcwd(),
    init_options = M.config.settings,
    -- The popup (lua/cga/popup.lua) expands the server's snippet items itself, line breaks included, on every
    -- Neovim; without this the server would send 0.7 one line per item.
    capabilities = vim.tbl_deep_extend("force", vim.lsp.protocol.make_client_capabilities(),
      { textDocument = { completion = { completionItem = { snippetSupport = true } } } }),
    settings = { cga = M.config.settings },
    on_attach = function(_, attached)
      enable_ghost_text(attached)
      require("cga.cursor").enable(attached)
    end,
  }
  if vim.lsp.start then -- 0.8+: reuses a running client with the same name and root
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  M.client_id = M.client_id or vim.lsp.start_client(config)
  if not M.client_id then
    local command = table.concat(M.config.cmd, " ")
    notify("could not start " .. command .. "; is codegen-assistant installed?", vim.log.levels.ERROR)
    return nil
  end
  vim.lsp.buf_attach_client(bufnr, M.client_id)
  return M.client_id
end

--- Run one of the server's refinement commands without blocking the editor; on_done(result) when it answers.
--
-- The server applies the new code itself (workspace/applyEdit) and shows its own failures
-- (window/showMessage), so all this reports is a change the editor did not take. Asynchronous on purpose:
-- a rewrite takes seconds, and on 0.7 a blocking request made while the server asked something of the
-- editor (the progress of a model still loading) waited out its whole timeout.
function M.execute(command, arguments, bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    notify("the language server is not running for this buffer yet; try again in a moment", vim.log.levels.WARN)
    return nil
  end
  local params = { command = command, arguments = arguments }
  local id = lsp_client.request(client, "workspace/executeCommand", params, function(err, result)
    if err then
      notify(command .. " failed: " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif result and result.applied == false and not result.error then
      notify("the editor did not apply the change", vim.log.levels.WARN)
    end
    if on_done then
      on_done(result or {})
    end
  end, bufnr)
  if not id then
    notify("could not reach the language server", vim.log.levels.ERROR)
  end
  return id
end

--- Refine lines line1..line2 (1-based; equal lines and no range mean the function at the cursor).
function M.refine(instruction, line1, line2, bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local range
  if line1 and line2 and line2 > line1 then
    local last = vim.api.nvim_buf_get_lines(bufnr, line2 - 1, line2, false)[1] or ""
    local client = M.client(bufnr)
    local params = vim.lsp.util.make_given_range_params({ line1, 0 }, { line2, #last }, bufnr,
      client and client.offset_encoding or "utf-16")
    range = params.range
  else
    local cursor = vim.api.nvim_win_get_cursor(0)
    range = { start = { line = cursor[1] - 1, character = 0 }, ["end"] = { line = cursor[1] - 1, character = 0 } }
  end
  return M.execute("cga.refine", { vim.uri_from_bufnr(bufnr), range, instruction }, bufnr, on_done)
end

function M.follow_up(instruction, bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.execute("cga.followUp", { vim.uri_from_bufnr(bufnr), instruction }, bufnr, on_done)
end

function M.undo(bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.execute("cga.undo", { vim.uri_from_bufnr(bufnr) }, bufnr, on_done)
end

function M.reset(bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.execute("cga.reset", { vim.uri_from_bufnr(bufnr) }, bufnr, on_done)
end

local function ask(opts, prompt)
  if opts.args ~= "" then
    return opts.args
  end
  local answer = vim.fn.input(prompt)
  return answer ~= "" and answer or nil
end

-- What setup() takes, and of which type: a wrong one is refused in one message instead of failing later.
local OPTION_TYPES = { cmd = "table", filetypes = "table", settings = "table", ghost = { "table", "boolean" } }

--- The first problem with setup()'s options, or nil (also used by :checkhealth cga).
function M.check_options(opts)
  for name, value in pairs(opts or {}) do
    local wanted = OPTION_TYPES[name]
    if wanted == nil then
      return string.format("unknown option %q (known: cmd, filetypes, settings, ghost)", name)
    end
    local types = type(wanted) == "table" and wanted or { wanted }
    if not vim.tbl_contains(types, type(value)) then
      return string.format("%s must be a %s, not a %s", name, table.concat(types, " or "), type(value))
    end
  end
  if type(opts) == "table" and type(opts.cmd) == "table" and type(opts.cmd[1]) ~= "string" then
    return "cmd must start with the program to run, e.g. { \"cga\", \"lsp\" }"
  end
  return nil
end

function M.setup(opts)
  local problem = M.check_options(opts)
  if problem then
    notify("setup(): " .. problem .. "; see :help cga-setup", vim.log.levels.ERROR)
    return
  end
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  require("cga.highlight").enable()
  local group = vim.api.nvim_create_augroup("cga", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(event)
      -- The popup works from the first keystroke: before the server is up it says so (no E764).
      require("cga.popup").enable(event.buf)
      M.attach(event.buf)
    end,
  })
  vim.api.nvim_create_user_command("CgaRefine", function(command)
    local instruction = ask(command, "Refine by: ")
    if instruction then
      notify("refining…")
      M.refine(instruction, command.line1, command.line2)
    end
  end, { nargs = "*", range = true, desc = "cga: refine the range (or the function at the cursor) by an instruction" })
  vim.api.nvim_create_user_command("CgaFollowUp", function(command)
    local instruction = ask(command, "Follow up: ")
    if instruction then
      notify("refining…")
      M.follow_up(instruction)
    end
  end, { nargs = "*", desc = "cga: change the last refinement further" })
  vim.api.nvim_create_user_command("CgaUndo", function()
    M.undo()
  end, { desc = "cga: undo the last refinement turn" })
  vim.api.nvim_create_user_command("CgaReset", function()
    M.reset()
  end, { desc = "cga: put the original code back and start over" })
end

return M
