"""The language server's editor side as a plain object, for benches that drive lsp/service.py in process:
documents it holds, and nothing shown."""

from __future__ import annotations

from cga.lsp.service import Document


class QuietEditor:
    def __init__(self) -> None:
        self.documents: dict[str, Document] = {}

    def document(self, uri):
        return self.documents.get(uri)

    def status(self, *args, **kwargs):
        pass

    def log(self, *args, **kwargs):
        pass

    def warn(self, message):
        print(message)

    def begin_progress(self, title):
        return None

    def end_progress(self, token, message):
        pass

    def apply_edit(self, *args):
        return False
