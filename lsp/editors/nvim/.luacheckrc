-- luacheck (Debian: apt install lua-check), run by tests/test_lint.py: Neovim's LuaJIT, and `vim` as the one
-- global, which the plugin may set fields of (vim.o.completeopt).
std = "luajit"
globals = { "vim" }
max_line_length = 120
