-- Tells the server where the cursor comes to rest in normal mode (cga/cursorRested), a moment after it stops:
-- the server reads the code before it then, while the user looks at it, so that the first suggestion there is
-- not a cold one (on two CPU cores a 2,000-token window takes 10 s to read).

local lsp_client = require("cga.client")

local M = {}

M.rest_ms = 300

local uv = vim.uv or vim.loop
local timer

local function tell(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  local client = lsp_client.get(bufnr)
  if client then
    lsp_client.notify(client, "cga/cursorRested", lsp_client.position_params(client))
  end
end

function M.enable(bufnr)
  local group = vim.api.nvim_create_augroup("cga_cursor_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd("CursorMoved", {
    group = group,
    buffer = bufnr,
    callback = function()
      timer = timer or uv.new_timer()
      timer:stop()
      timer:start(M.rest_ms, 0, vim.schedule_wrap(function()
        tell(bufnr)
      end))
    end,
  })
end

return M
