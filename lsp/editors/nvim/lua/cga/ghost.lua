-- Ghost text for Neovim before 0.12 (0.12 has vim.lsp.inline_completion): the
-- suggestion from textDocument/inlineCompletion drawn as virtual text at the
-- cursor, its further lines as virtual lines below.
--
-- While typing in insert mode, a request goes out after a short pause
-- (debounce); a newer keystroke cancels the one in flight (latest wins), and an
-- answer that arrives after the text or the cursor moved is dropped. Keys (see
-- require("cga").defaults.ghost): accept all, a word or a line; next and
-- previous suggestion (asking the server for alternatives); dismiss.

local lsp_client = require("cga.client")

local M = {}

local ns = vim.api.nvim_create_namespace("cga_ghost")
local INVOKED, AUTOMATIC = 1, 2 -- InlineCompletionTriggerKind
local state = {} -- per buffer: pending request, timer, items, index, shown suggestion


local function buf_state(bufnr)
  state[bufnr] = state[bufnr] or {}
  return state[bufnr]
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function cancel_pending(s)
  if s.pending then
    pcall(lsp_client.cancel, s.pending.client, s.pending.id)
    s.pending = nil
  end
end

local function hide(bufnr)
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  local s = buf_state(bufnr)
  s.text, s.row, s.col = nil, nil, nil
end

--- Forget the suggestion and any request for one.
function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = buf_state(bufnr)
  cancel_pending(s)
  if s.timer then
    s.timer:stop()
  end
  s.items, s.index = nil, nil
  hide(bufnr)
end

--- The suggestion shown now, if any (the text that Tab would insert).
function M.current(bufnr)
  return buf_state(bufnr or vim.api.nvim_get_current_buf()).text
end

local function draw(bufnr, text)
  hide(bufnr)
  if text == nil or text == "" then
    return
  end
  local s = buf_state(bufnr)
  local row, col = cursor()
  local lines = vim.split(text, "\n", { plain = true })
  local opts = { virt_text = { { lines[1], "CgaSuggestion" } }, hl_mode = "combine" }
  if vim.fn.has("nvim-0.10") == 1 then
    opts.virt_text_pos = "inline"
  else
    -- Before 0.10 virtual text cannot push the rest of the line aside: draw the line as it would be
    -- after accepting, over the text right of the cursor.
    local right = vim.api.nvim_get_current_line():sub(col + 1)
    opts.virt_text_pos = "overlay"
    if right ~= "" then
      table.insert(opts.virt_text, { right, "Normal" })
    end
  end
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      table.insert(opts.virt_lines, { { lines[i], "CgaSuggestion" } })
    end
  end
  s.extmark = vim.api.nvim_buf_set_extmark(bufnr, ns, row, col, opts)
  s.text, s.row, s.col, s.tick = text, row, col, vim.api.nvim_buf_get_changedtick(bufnr)
end

--- The part of an item's text that goes after the cursor (its range may start earlier on the line).
local function text_after_cursor(client, item)
  local text = type(item.insertText) == "table" and item.insertText.value or item.insertText
  if type(text) ~= "string" then
    return nil
  end
  local row, col = cursor()
  if item.range and item.range.start.line == row then
    local line = vim.api.nvim_get_current_line()
    local start = lsp_client.byte_col(client, line, item.range.start.character)
    local typed = line:sub(start + 1, col)
    if text:sub(1, #typed) ~= typed then
      return nil -- the item does not continue what is typed
    end
    text = text:sub(#typed + 1)
  end
  return text
end

local function show_item(bufnr, client, index)
  local s = buf_state(bufnr)
  if not s.items or #s.items == 0 then
    return hide(bufnr)
  end
  s.index = (index - 1) % #s.items + 1
  draw(bufnr, text_after_cursor(client, s.items[s.index]))
end

--- Ask the server for a suggestion at the cursor (latest wins) and draw it when it comes.
function M.request(bufnr, trigger_kind, then_index)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = lsp_client.get(bufnr)
  if not client then
    return
  end
  local s = buf_state(bufnr)
  cancel_pending(s)
  local params = lsp_client.position_params(client)
  params.context = { triggerKind = trigger_kind or AUTOMATIC }
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local row, col = cursor()
  local id
  id = lsp_client.request(client, "textDocument/inlineCompletion", params, function(err, result)
    if s.pending and s.pending.id == id then
      s.pending = nil
    end
    if err or not result then
      return
    end
    local now_row, now_col = cursor()
    local stale = vim.api.nvim_get_current_buf() ~= bufnr or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick
      or now_row ~= row or now_col ~= col or not vim.api.nvim_get_mode().mode:find("^i")
    if stale then
      return -- the user has moved on; a newer request is (or will be) on its way
    end
    s.items = result.items or result
    show_item(bufnr, client, then_index or 1)
  end, bufnr)
  if id then
    s.pending = { client = client, id = id }
  end
end

--- Plain insert mode: not the popup menu or a CTRL-X completion, which have the floor (and the server's turn).
local function typing(bufnr)
  return not buf_state(bufnr).held and vim.api.nvim_get_mode().mode == "i" and vim.fn.pumvisible() == 0
end

--- No ghost text, and no request for it, until release(): the popup asked the server and waits for it.
function M.hold(bufnr)
  M.dismiss(bufnr)
  buf_state(bufnr).held = true
end

function M.release(bufnr)
  buf_state(bufnr).held = nil
end

--- The rest of the suggestion shown, when the characters typed since it was drawn are its beginning (on its
--- first line): shown at once, with no request (the server would answer the same from it).
local function typed_through(bufnr)
  local s = buf_state(bufnr)
  local row, col = cursor()
  if not s.text or s.row ~= row or col <= s.col then
    return nil
  end
  local typed = vim.api.nvim_get_current_line():sub(s.col + 1, col)
  local first = s.text:match("^[^\n]*")
  if #typed < #first and first:sub(1, #typed) == typed then
    return s.text:sub(#typed + 1)
  end
  return nil
end

--- After a change in insert mode: hide what no longer fits and ask again after the debounce time.
function M.on_change(bufnr, debounce_ms)
  local s = buf_state(bufnr)
  local row, col = cursor()
  if s.text and s.tick == vim.api.nvim_buf_get_changedtick(bufnr) and s.row == row and s.col == col then
    return -- our own insertion (a partly accepted suggestion): keep showing the rest
  end
  local rest = typed_through(bufnr)
  if rest then
    cancel_pending(s)
    draw(bufnr, rest)
    return
  end
  M.dismiss(bufnr)
  if not typing(bufnr) then
    return
  end
  s.timer = s.timer or vim.loop.new_timer()
  s.timer:stop()
  s.timer:start(debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_get_current_buf() == bufnr and typing(bufnr) then
      M.request(bufnr, AUTOMATIC)
    end
  end))
end

local function accepted_part(text, how)
  if how == "word" then
    return text:match("^%s*[%w_]+") or text:match("^%s*[^%w_%s]+") or text:match("^%s+") or text
  elseif how == "line" then
    if text:sub(1, 1) == "\n" then
      return "\n" .. (text:sub(2):match("^[^\n]*") or "")
    end
    return text:match("^[^\n]*")
  end
  return text
end

--- Put text (line breaks included) at the cursor of the current window and move the cursor past it.
function M.insert_at_cursor(bufnr, text)
  local row, col = cursor()
  local lines = vim.split(text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
  vim.api.nvim_win_set_cursor(0, { row + #lines, (#lines == 1 and col or 0) + #lines[#lines] })
end

--- Insert the whole suggestion, its next word or its line; false if there is none to accept.
function M.accept(how, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = buf_state(bufnr)
  local text = s.text
  if not text then
    return false
  end
  local part = accepted_part(text, how)
  M.insert_at_cursor(bufnr, part)
  local rest = text:sub(#part + 1)
  cancel_pending(s)
  if rest == "" then
    s.items, s.index = nil, nil
    hide(bufnr)
  else
    draw(bufnr, rest) -- shown at the new cursor; on_change sees our own edit and keeps it
  end
  return true
end

--- Show the next (step 1) or previous (-1) suggestion; the first time, ask the server for alternatives.
function M.cycle(step, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = buf_state(bufnr)
  local client = lsp_client.get(bufnr)
  if not client then
    return
  end
  if s.items and #s.items > 1 then
    return show_item(bufnr, client, s.index + step)
  end
  M.request(bufnr, INVOKED, step > 0 and 2 or 0)
end

--- A mapped key's usual meaning, where it has nothing to do: put in front of the keys typed after it ("i"), not
--- behind them, or Tab then x typed at once gave "x    ".
local function feed(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "ni", false)
end

--- Ghost text for bufnr: autocommands and insert-mode keys (each falls back to its usual meaning).
function M.enable(bufnr, config)
  local group = vim.api.nvim_create_augroup("cga_ghost_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd("TextChangedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.on_change(bufnr, config.debounce_ms)
    end,
  })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    buffer = bufnr,
    callback = function()
      local s = buf_state(bufnr)
      local row, col = cursor()
      if s.text and (s.row ~= row or s.col ~= col) and not typed_through(bufnr) then
        M.dismiss(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
      M.release(bufnr)
    end,
  })
  local keys = config.keys
  local function map(key, action, desc)
    if key then
      vim.keymap.set("i", key, function()
        if not action() then
          feed(key)
        end
      end, { buffer = bufnr, desc = "cga: " .. desc })
    end
  end
  map(keys.accept, function() return M.accept("all", bufnr) end, "accept the suggestion")
  map(keys.accept_word, function() return M.accept("word", bufnr) end, "accept the suggestion's next word")
  map(keys.accept_line, function() return M.accept("line", bufnr) end, "accept the suggestion's line")
  map(keys.next, function() M.cycle(1, bufnr) return true end, "next suggestion")
  map(keys.prev, function() M.cycle(-1, bufnr) return true end, "previous suggestion")
  map(keys.dismiss, function()
    local shown = M.current(bufnr) ~= nil
    M.dismiss(bufnr)
    return shown
  end, "dismiss the suggestion")
  -- Keys typed while the server was starting had nobody listening for them: ask now for where they left the
  -- cursor, or that suggestion would wait for one more key.
  if vim.api.nvim_get_current_buf() == bufnr and typing(bufnr) then
    M.on_change(bufnr, config.debounce_ms)
  end
end

return M
