"""What every other package stands on: llama.cpp's binding, the facts of a GGUF file, bounds, the user folder,
atomic writes and the root of every error a user can act on. Imports nothing of ours."""
