"""The root of every failure a user can act on, and the few that more than one package raises.

The command line turns any CgaError into one sentence and an exit code; each package derives its own
errors from it (convert.errors, models.errors, assistant.errors), so none depends on another's.
"""


class CgaError(Exception):
    """Base of every failure a user can act on."""


class ModelLoadError(CgaError):
    """llama.cpp could not load the file (missing, corrupt, not a GGUF)."""


class UserDirError(CgaError):
    """A folder under the user directory cannot be created or written."""
