"""The assistant: llama.cpp engine, prompts, conversations and the command line."""
