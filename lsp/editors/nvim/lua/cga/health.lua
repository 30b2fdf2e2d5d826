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

  local client = cga.client(0)
  if client then
    ok("a cga client is attached to this buffer")
  elseif vim.tbl_contains(cga.config.filetypes or {}, vim.bo.filetype) then
    warn("no cga client is attached to this buffer yet", { "it starts with the first buffer of a listed filetype" })
  else
    info("this buffer's filetype (" .. (vim.bo.filetype ~= "" and vim.bo.filetype or "none")
      .. ") is not in setup()'s filetypes")
  end
end

return M
