"""The language server and its editor clients."""
