-- Neovim client for `cga lsp`, on the built-in LSP client (Neovim 0.7 and later).
--
--   require("cga").setup({ settings = { model = "codegen-350M-mono" } })
--
-- Completion takes the best the running Neovim offers: inline ghost text
-- (vim.lsp.inline_completion, 0.12+), else the auto-triggered popup
-- (vim.lsp.completion, 0.11+), else the popup on <C-x><C-o> (omnifunc).
-- Refinement commands: :CgaRefine {instruction} (on a range, or the function
-- at the cursor), :CgaFollowUp {instruction}, :CgaUndo, :CgaReset. The server
-- answers them with workspace/applyEdit, which Neovim applies (so `u` undoes).

local M = {}

M.defaults = {
  cmd = { "cga", "lsp" },
  -- Filetypes that start the server; the server itself also skips settings.disabledLanguages.
  filetypes = { "python", "c", "cpp", "go", "java", "javascript", "typescript", "rust", "lua", "sh", "ruby", "php" },
  -- Sent as initializationOptions: model, device, threads, maxTokens, debounceMs, disabledLanguages.
  settings = {},
  -- How long a refinement command may take before Neovim gives up waiting.
  timeout_ms = 120000,
  -- Accept an inline suggestion with this key (Neovim 0.12+); false to map it yourself.
  accept_key = "<Tab>",
}

M.config = vim.deepcopy(M.defaults)

local function notify(message, level)
  vim.notify("cga: " .. message, level or vim.log.levels.INFO)
end

--- The cga client attached to bufnr, if any.
function M.client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr, name = "cga" })
    or vim.lsp.buf_get_clients(bufnr)
  for _, client in pairs(clients) do
    if client.name == "cga" then
      return client
    end
  end
  return nil
end

local function enable_completion(client, bufnr)
  if vim.lsp.inline_completion and vim.lsp.inline_completion.enable then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    if M.config.accept_key then
      vim.keymap.set("i", M.config.accept_key, function()
        if not vim.lsp.inline_completion.get() then
          return M.config.accept_key
        end
      end, { buffer = bufnr, expr = true, replace_keycodes = true, desc = "cga: accept the inline suggestion" })
    end
  elseif vim.lsp.completion and vim.lsp.completion.enable then
    vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = true })
  else
    vim.api.nvim_buf_set_option(bufnr, "omnifunc", "v:lua.vim.lsp.omnifunc")
  end
end

local function on_attach(client, bufnr)
  enable_completion(client, bufnr)
end

--- Start (or reuse) the server for bufnr and attach it.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local config = {
    name = "cga",
    cmd = M.config.cmd,
    root_dir = vim.fn.getcwd(),
    init_options = M.config.settings,
    settings = { cga = M.config.settings },
    on_attach = on_attach,
  }
  if vim.lsp.start then -- 0.8+: reuses a running client with the same name and root
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  M.client_id = M.client_id or vim.lsp.start_client(config)
  if not M.client_id then
    notify("could not start " .. table.concat(M.config.cmd, " ") .. "; is codegen-assistant installed?", vim.log.levels.ERROR)
    return nil
  end
  vim.lsp.buf_attach_client(bufnr, M.client_id)
  return M.client_id
end

--- Run one of the server's refinement commands and report its outcome.
function M.execute(command, arguments, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    notify("the language server is not attached to this buffer", vim.log.levels.WARN)
    return nil
  end
  local params = { command = command, arguments = arguments }
  local response, err
  if vim.fn.has("nvim-0.11") == 1 then
    response, err = client:request_sync("workspace/executeCommand", params, M.config.timeout_ms, bufnr)
  else
    response, err = client.request_sync("workspace/executeCommand", params, M.config.timeout_ms, bufnr)
  end
  if err or not response then
    notify(command .. " failed: " .. tostring(err), vim.log.levels.ERROR)
    return nil
  end
  if response.err then
    notify(command .. " failed: " .. (response.err.message or vim.inspect(response.err)), vim.log.levels.ERROR)
    return nil
  end
  local result = response.result or {}
  if result.error then
    notify(result.error, vim.log.levels.WARN)
  end
  return result
end

--- Refine lines line1..line2 (1-based; equal lines and no range mean the function at the cursor).
function M.refine(instruction, line1, line2, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local range = nil
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
  return M.execute("cga.refine", { vim.uri_from_bufnr(bufnr), range, instruction }, bufnr)
end

function M.follow_up(instruction, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.execute("cga.followUp", { vim.uri_from_bufnr(bufnr), instruction }, bufnr)
end

function M.undo(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.execute("cga.undo", { vim.uri_from_bufnr(bufnr) }, bufnr)
end

function M.reset(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return M.execute("cga.reset", { vim.uri_from_bufnr(bufnr) }, bufnr)
end

local function ask(opts, prompt)
  if opts.args ~= "" then
    return opts.args
  end
  local answer = vim.fn.input(prompt)
  return answer ~= "" and answer or nil
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  local group = vim.api.nvim_create_augroup("cga", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(event)
      M.attach(event.buf)
    end,
  })
  vim.api.nvim_create_user_command("CgaRefine", function(opts)
    local instruction = ask(opts, "Refine by: ")
    if instruction then
      M.refine(instruction, opts.line1, opts.line2)
    end
  end, { nargs = "*", range = true, desc = "cga: refine the range (or the function at the cursor) by an instruction" })
  vim.api.nvim_create_user_command("CgaFollowUp", function(opts)
    local instruction = ask(opts, "Follow up: ")
    if instruction then
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
