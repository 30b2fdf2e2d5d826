-- A suggestion must always look like a suggestion. Neovim 0.10+'s default colours give Comment (which our
-- ghost text links to) and ComplHint (0.12's own inline completion) a GUI colour only: in a terminal without
-- truecolor ('notermguicolors', tmux by default) ghost text looked like typed text (issue 19). A group that
-- would show no different in the colours in use gets grey italics; a colour scheme that styles it wins.

local M = {}

M.GROUPS = { "CgaSuggestion", "ComplHint" }
local FALLBACK = { fg = "#808080", ctermfg = 244, italic = true, cterm = { italic = true } }

local function distinct(hl)
  if vim.o.termguicolors then
    return hl.fg ~= nil or hl.italic or hl.bg ~= nil
  end
  return hl.ctermfg ~= nil or hl.ctermbg ~= nil or (type(hl.cterm) == "table" and next(hl.cterm) ~= nil)
end

function M.ensure_visible()
  if vim.fn.has("nvim-0.9") == 0 then
    return -- 0.7/0.8's default colours give Comment a terminal colour
  end
  for _, group in ipairs(M.GROUPS) do
    local hl = vim.api.nvim_get_hl(0, { name = group, link = false })
    if not distinct(hl) then
      vim.api.nvim_set_hl(0, group, vim.tbl_extend("force", FALLBACK, { fg = hl.fg or FALLBACK.fg }))
    end
  end
end

function M.enable()
  vim.cmd("highlight default link CgaSuggestion Comment") -- the ghost text's group; a colour scheme may set it
  M.ensure_visible()
  vim.api.nvim_create_autocmd({ "ColorScheme", "OptionSet" }, {
    group = vim.api.nvim_create_augroup("cga_highlight", { clear = true }),
    callback = function(event)
      if event.event == "ColorScheme" or event.match == "termguicolors" then
        M.ensure_visible()
      end
    end,
  })
end

return M
