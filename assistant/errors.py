"""Errors the engine raises; the CLI turns each into one sentence and an exit code."""


class EngineError(Exception):
    """Base of every engine failure a user can act on."""


class ModelNotFound(EngineError):
    """--model names neither a file nor a known model."""


class ModelLoadError(EngineError):
    """llama.cpp could not load the file (missing, corrupt, not a GGUF)."""


class PromptTooLong(EngineError):
    """The prompt does not fit the model's context with room for an answer."""


class UserDirError(EngineError):
    """A folder under the user directory cannot be created or written."""


class ChatTemplateError(EngineError):
    """The chat template a model file carries failed, or went past the bounds it is rendered within."""
