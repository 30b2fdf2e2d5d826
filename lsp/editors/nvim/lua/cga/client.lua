-- The cga LSP client of a buffer, and requests to it, across Neovim versions:
-- 0.11 turned client methods into `client:method()` and deprecated
-- `buf_get_clients`; 0.7 has only the older forms.

local M = {}

local method_calls = vim.fn.has("nvim-0.11") == 1

--- The cga client attached to bufnr, once it has started (answered initialize); nil before.
function M.get(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr, name = "cga" })
    or vim.lsp.buf_get_clients(bufnr)
  for _, client in pairs(clients) do
    if client.name == "cga" and client.server_capabilities ~= nil then
      return client
    end
  end
  return nil
end

--- Send a request; handler(err, result) runs on the main loop. Returns the request id, or nil.
function M.request(client, method, params, handler, bufnr)
  local ok, id
  if method_calls then
    ok, id = client:request(method, params, handler, bufnr)
  else
    ok, id = client.request(method, params, handler, bufnr)
  end
  return ok and id or nil
end

function M.notify(client, method, params)
  if method_calls then
    return client:notify(method, params)
  end
  return client.notify(method, params)
end

function M.cancel(client, id)
  if method_calls then
    client:cancel_request(id)
  else
    client.cancel_request(id)
  end
end

--- textDocument + position of the cursor in the current window, in the client's encoding.
function M.position_params(client)
  return vim.lsp.util.make_position_params(0, client.offset_encoding or "utf-16")
end

--- The byte column in line of an LSP character position (UTF-16 units unless the client says otherwise).
function M.byte_col(client, line, character)
  local encoding = client.offset_encoding or "utf-16"
  if encoding == "utf-8" then
    return math.min(character, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, character, encoding == "utf-16")
  return ok and col or #line
end

return M
