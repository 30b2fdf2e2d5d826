"""A remote backend: any OpenAI-compatible completions server (llama.cpp's server,
llama-cpp-python's server, vLLM), for teams that share one bigger machine.

Prompts go as text, so the local token-level formats (infill) are not
available remotely; stop strings and program truncation are still applied
here, so the text a user sees follows the same rules as the local engine.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

from .engine import Generation, filter_stream
from .errors import EngineError


class RemoteError(EngineError):
    """The completion server cannot be reached or answered with an error."""


class RemoteEngine:
    def __init__(self, url: str, *, model: str | None = None, timeout: float = 60.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise RemoteError(f"'{url}' is not an http(s) URL; give the server's base URL, e.g. http://127.0.0.1:8080.")
        self.url = url.rstrip("/")
        if self.url.endswith("/v1"):
            self.url = self.url[:-3]
        self.model = model
        self.timeout = timeout

    def describe(self) -> str:
        return f"the completion server at {self.url}"

    def stream_text(self, prompt: str, options: Generation) -> Iterator[str]:
        body = {
            "prompt": prompt, "max_tokens": options.max_tokens, "temperature": options.temperature,
            "top_p": options.top_p, "stream": True,
        }
        if options.stop:
            body["stop"] = list(options.stop)
        if self.model:
            body["model"] = self.model
        request = urllib.request.Request(
            f"{self.url}/v1/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
        )
        options.stats.update(prompt_tokens=None, reused_tokens=None, generated=0, stop="length")
        yield from filter_stream(self._chunks(request, options.stats), options)

    def _chunks(self, request: urllib.request.Request, stats: dict) -> Iterator[str]:
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", errors="replace")
            raise RemoteError(f"{self.describe()} answered HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(f"Cannot reach {self.describe()} ({reason}); is it running?") from exc
        with response:
            for raw in response:
                line = raw.decode("utf-8", errors="replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                choice = json.loads(data)["choices"][0]
                stats["generated"] += 1
                if choice.get("finish_reason") == "stop":
                    stats["stop"] = "end"
                yield choice.get("text", "")
