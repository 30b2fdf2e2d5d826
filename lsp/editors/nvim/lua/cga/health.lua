-- :checkhealth cga — what the plugin needs, checked the way a user would: Neovim's version, the server
-- command on PATH and answering, the settings' types, and whether a client is attached to this buffer.

local M = {}

-- Neovim 0.10+ has vim.health.start/ok/…; 0.7–0.9 have require("health").report_*.
local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local fail = health.error or health.report_error
local info = health.info or health.report_info

function M.check()
  start("cga")
  local version = vim.version()
  local shown = string.format("%d.%d.%d", version.major, version.minor, version.patch)
  if vim.fn.has("nvim-0.7") == 1 then
    ok("Neovim " .. shown .. (vim.fn.has("nvim-0.12") == 1 and " (ghost text: Neovim's own inline completion)"
      or " (ghost text: the plugin's)"))
  else
    fail("Neovim " .. shown .. " is too old", { "Neovim 0.7 or later is needed" })
  end

  local cga = require("cga")
  local problem = cga.check_options(cga.config)
  if problem then
    fail("setup(): " .. problem, { ":help cga-setup lists each option and its type" })
  else
    ok("setup() options are valid")
  end

  local cmd = cga.config.cmd or {}
  local program = cmd[1]
  if not program or vim.fn.executable(program) ~= 1 then
    fail(string.format("the server command %q is not on PATH", tostring(program)),
      { "pip install codegen-assistant (it installs `cga`)", "or give setup({ cmd = { ... } }) the full path" })
  else
    local answer = vim.fn.system({ program, "--help" })
    if vim.v.shell_error == 0 then
      ok(string.format("%s answers (%s)", program, vim.fn.exepath(program)))
    else
      fail(string.format("%s --help failed: %s", program, vim.trim(answer):sub(1, 200)),
        { "run `cga doctor` in a terminal to see what is missing" })
    end
  end

  -- :checkhealth opens its own buffer: the user's are the other loaded buffers that hold a file.
  local files, listed = 0, cga.config.filetypes or {}
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    local name = vim.api.nvim_buf_get_name(buf)
    if vim.api.nvim_buf_is_loaded(buf) and vim.bo[buf].buftype == "" and name ~= "" then
      local shown_name = vim.fn.fnamemodify(name, ":~:.")
      local filetype = vim.bo[buf].filetype
      if cga.client(buf) then
        files = files + 1
        ok("a cga client is attached to " .. shown_name)
      elseif vim.tbl_contains(listed, filetype) then
        files = files + 1
        warn("no cga client is attached to " .. shown_name,
          { "it starts when a buffer of a listed filetype is opened; :LspInfo (or :checkhealth vim.lsp) says more" })
      end
    end
  end
  if files == 0 then
    info("no open buffer has a filetype from setup()'s filetypes (" .. table.concat(listed, ", ") .. ")")
  end
end

return M
