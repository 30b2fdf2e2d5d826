-- Drives Neovim's built-in LSP client against `cga lsp` through the cga plugin,
-- headless, and writes what it saw as JSON to $CGA_TEST_OUT.
local report = { steps = {} }

local function step(name)
  table.insert(report.steps, name)
end

local function lines()
  return vim.api.nvim_buf_get_lines(0, 0, -1, false)
end

local function run()
  vim.opt.runtimepath:prepend(vim.env.CGA_PLUGIN)
  vim.cmd("filetype on")
  local cga = require("cga")
  cga.setup({
    cmd = vim.fn.json_decode(vim.env.CGA_CMD),
    settings = vim.fn.json_decode(vim.env.CGA_SETTINGS),
  })
  vim.cmd("edit " .. vim.fn.fnameescape(vim.env.CGA_FILE))
  step("opened")
  local ready = vim.wait(180000, function()
    local client = cga.client(0)
    return client ~= nil and client.server_capabilities ~= nil and client.server_capabilities.completionProvider ~= nil
  end, 100)
  if not ready then
    error("the cga client never attached")
  end
  step("attached")
  report.omnifunc = vim.bo.omnifunc
  report.has_inline = vim.lsp.inline_completion ~= nil

  local last = vim.api.nvim_buf_line_count(0)
  local line = vim.api.nvim_buf_get_lines(0, last - 1, last, false)[1]
  vim.api.nvim_win_set_cursor(0, { last, #line })
  local responses = vim.lsp.buf_request_sync(0, "textDocument/completion", vim.lsp.util.make_position_params(), 180000)
  report.completion = {}
  for _, response in pairs(responses or {}) do
    report.completion_error = response.err and response.err.message or nil
    for _, item in ipairs(response.result and response.result.items or {}) do
      table.insert(report.completion, item.insertText or item.label)
    end
  end
  step("completed")

  report.original = lines()
  vim.api.nvim_win_set_cursor(0, { 2, 4 }) -- inside the function
  report.refine = cga.refine("add a docstring")
  report.refined = lines()
  step("refined")
  report.undo = cga.undo()
  report.undone = lines()
  step("undone")
end

local ok, err = pcall(run)
report.ok = ok
if not ok then
  report.error = tostring(err)
end
vim.fn.writefile({ vim.fn.json_encode(report) }, vim.env.CGA_TEST_OUT)
vim.cmd("qa!")
