-- The popup path (<C-x><C-o>): an 'omnifunc' that asks the server for
-- textDocument/completion and feeds Vim's popup menu.
--
-- Neovim's own vim.lsp.omnifunc (0.7–0.10) cannot carry these answers: it drops
-- items whose text does not start with the word before the cursor, and Vim's
-- popup inserts a multi-line word on one line with NUL bytes for the line
-- breaks. Here the menu gets the first line of each answer, and the lines after
-- it are inserted when the item is chosen (CompleteDone).

local lsp_client = require("cga.client")

local M = {}
local shown = {} -- buffers whose popup menu holds our items
local saved_completeopt = nil -- the user's 'completeopt' while our menu is up

local function notify(message, level)
  vim.notify("cga: " .. message, level or vim.log.levels.INFO)
end

--- The text a snippet item of the server's inserts: its escapes undone, and its lines after the first
--- indented like the cursor's line (insertTextMode adjustIndentation). The server's snippets have nothing to
--- fill in, only the final $0.
local function snippet_text(text, line)
  text = text:gsub("%$0$", ""):gsub("\\(.)", "%1")
  local indent = line:match("^[ \t]*")
  return (text:gsub("\n", "\n" .. indent))
end

--- The item's full text as it goes in from byte column start (where Vim's completion begins) on line.
local function text_from(client, item, line, start, col)
  local edit = item.textEdit
  local text = edit and edit.newText or item.insertText or item.label
  if item.insertTextFormat == 2 then
    text = snippet_text(text, line)
  end
  if not edit then
    return line:sub(start + 1, col) .. text
  end
  local range_start = lsp_client.byte_col(client, line, edit.range.start.character)
  if range_start >= start then
    return line:sub(start + 1, range_start) .. text
  end
  local replaced = line:sub(range_start + 1, start) -- the edit also replaces text before Vim's start
  return text:sub(1, #replaced) == replaced and text:sub(#replaced + 1) or nil
end

local function complete_items(client, result, line, start, col)
  local matches = {}
  for _, item in ipairs(result and (result.items or result) or {}) do
    local text = text_from(client, item, line, start, col)
    if text and text ~= "" then
      local lines = vim.split(text, "\n", { plain = true })
      table.insert(matches, {
        word = lines[1],
        abbr = item.label,
        menu = #lines > 1 and string.format("[cga, %d lines]", #lines) or "[cga]",
        info = text,
        icase = 1,
        dup = 1,
        empty = 1,
        user_data = vim.fn.json_encode({ cga_rest = table.concat(lines, "\n", 2) }),
      })
    end
  end
  return matches
end

--- 'omnifunc': complete asynchronously (findstart returns -2 and complete() fills the menu later).
function M.omnifunc(findstart, _)
  if findstart ~= 1 then
    return {}
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local client = lsp_client.get(bufnr)
  if not client then
    notify("the language server is still starting (or not attached to this buffer); try again in a moment",
      vim.log.levels.WARN)
    return -3
  end
  local ghost = require("cga.ghost")
  ghost.hold(bufnr) -- the popup was asked for: no ghost-text request takes its turn at the server
  local line = vim.api.nvim_get_current_line()
  local col = vim.api.nvim_win_get_cursor(0)[2]
  local start = vim.fn.match(line:sub(1, col), "\\k*$")
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local params = lsp_client.position_params(client)
  local sent = lsp_client.request(client, "textDocument/completion", params, function(err, result)
    if err then
      ghost.release(bufnr)
      return notify("completion failed: " .. (err.message or tostring(err)), vim.log.levels.WARN)
    end
    if vim.api.nvim_buf_get_changedtick(bufnr) ~= tick or not vim.api.nvim_get_mode().mode:find("^i") then
      ghost.release(bufnr)
      return -- typed on since: this answer is for text that is gone
    end
    local matches = complete_items(client, result, line, start, col)
    if #matches == 0 then
      ghost.release(bufnr)
      return notify("no suggestion here", vim.log.levels.INFO)
    end
    -- The menu must show, and nothing go in, until an item is chosen, whatever the user's 'completeopt': with
    -- Neovim's default (no menuone) Vim inserted a lone item's first line at once and our CompleteDone then
    -- put the rest in where the cursor had gone (issue 19). The user's value comes back at CompleteDone.
    saved_completeopt = saved_completeopt or vim.o.completeopt
    local keep = vim.tbl_filter(function(flag)
      return flag ~= "noselect" and flag ~= "menu" and flag ~= "menuone" and flag ~= "noinsert" and flag ~= ""
    end, vim.split(saved_completeopt, ",", { plain = true }))
    vim.o.completeopt = table.concat(vim.list_extend({ "menuone", "noinsert" }, keep), ",")
    vim.fn.complete(start + 1, matches)
    shown[bufnr] = true -- the CompleteDone that closes this menu releases the ghost text
  end, bufnr)
  if not sent then
    ghost.release(bufnr)
  end
  return -2
end

--- After CompleteDone: put in the lines after the first of a chosen multi-line answer (item: v:completed_item).
function M.on_complete_done(bufnr, item)
  if type(item) ~= "table" or type(item.user_data) ~= "string" or item.user_data == "" then
    return
  end
  local ok, data = pcall(vim.fn.json_decode, item.user_data)
  if not ok or type(data) ~= "table" or type(data.cga_rest) ~= "string" or data.cga_rest == "" then
    return
  end
  require("cga.ghost").insert_at_cursor(bufnr, "\n" .. data.cga_rest)
end

function M.enable(bufnr)
  vim.api.nvim_buf_set_option(bufnr, "omnifunc", "v:lua.require'cga.popup'.omnifunc")
  vim.api.nvim_create_autocmd("CompleteDone", {
    group = vim.api.nvim_create_augroup("cga_popup_" .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      -- After Vim has finished the completion: changing the buffer inside CompleteDone confuses it
      -- (seen on 0.7: a stray character from the completed word appended after the inserted lines).
      if not shown[bufnr] then
        return -- not our menu (Vim also ends the CTRL-X mode when the omnifunc returns, before the answer)
      end
      shown[bufnr] = nil
      if saved_completeopt then
        vim.o.completeopt, saved_completeopt = saved_completeopt, nil
      end
      local item = vim.v.completed_item
      vim.schedule(function()
        M.on_complete_done(bufnr, item)
        require("cga.ghost").release(bufnr)
      end)
    end,
  })
end

return M
