"""A team's completion server as a Backend: llama.cpp's `llama-server`, llama-cpp-python's server, or any
OpenAI-compatible one.

What each kind offers decides what works remotely:
- llama-server: prompts go as token ids to its native /completion endpoint, so
  infill control tokens and program prefixes reach the model exactly, and with
  `cache_prompt` a keystroke reuses the server's KV cache; /tokenize,
  /detokenize and /props (its context size) serve the windowing.
- llama-cpp-python's server: prompts go as text, in which control tokens are
  written as their own text (`<mask_1>`); it parses them back into the same
  ids. Its context size is not published: `context` says it (2,048, CodeGen's,
  by default).
- any other OpenAI-compatible server (vLLM, …): text prompts only, so
  `cga complete` and `cga eval` work; the language server and chat, which
  count tokens, need one of the two above.

Which model the server runs is checked against the one the user named (its
file name), and CodeGen2's infill tokens are looked up on the server itself.
Stop strings and program truncation apply here, as for the local engine.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from core.model_info import INFILL_IDS, ModelInfo

from .backend import Answer, Generation, Stats, filter_stream
from .errors import EngineError

INFILL_TEXT = {"mask_1": "<mask_1>", "eos": "<|endoftext|>", "sep": "<sep>", "eom": "<eom>"}
DEFAULT_CONTEXT = 2048


class RemoteError(EngineError):
    """The completion server cannot be reached, answered with an error, or runs another model."""


class RemoteBackend:
    def __init__(self, url: str, *, expected: str | None = None, context: int | None = None,
                 timeout: float = 60.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise RemoteError(f"'{url}' is not an http(s) URL; give the server's base URL, e.g. http://127.0.0.1:8080.")
        self.url = url.rstrip("/").removesuffix("/v1")
        self.timeout = timeout
        models = self._call("GET", "/v1/models").get("data") or [{}]
        self.model_id = str(models[0].get("id") or "remote")
        _check_expected(self.url, self.model_id, expected)
        self.kind = self._kind()
        # llama-server says what it runs: its context and the model file's chat template, which chat renders
        # here (bounded, as for a local file) so that a chat model is prompted as it was trained.
        self.props = self._call("GET", "/props") if self.kind == "llama-server" else {}
        self.n_ctx = context or self._context() or DEFAULT_CONTEXT
        self.special_text: dict[int, str] = {}
        self.info = self._info()

    # -- what the server is ------------------------------------------------------------------------------------

    def _kind(self) -> str:
        for kind, path, body in (("llama-server", "/tokenize", {"content": "a"}),
                                 ("llama-cpp-python", "/extras/tokenize", {"input": "a"})):
            try:
                if "tokens" in self._call("POST", path, body, quiet=True):
                    return kind
            except RemoteError:
                continue
        return "openai"

    def _context(self) -> int | None:
        settings = self.props.get("default_generation_settings") or {}
        try:
            return int(settings.get("n_ctx") or self.props.get("n_ctx") or 0) or None
        except (TypeError, ValueError):
            raise RemoteError(f"{self.url} reports a context size that is not a number; is it llama-server?") from None

    def _info(self) -> ModelInfo:
        ids: dict[str, int] = {}
        if self.kind != "openai":
            for key, text in INFILL_TEXT.items():
                found = self.tokenize(text, special=True)
                if len(found) == 1:
                    ids[key] = found[0]
                    self.special_text[found[0]] = text
        infill = set(INFILL_IDS) <= ids.keys() and ids["mask_1"] != ids["eos"]
        template = self.props.get("chat_template")
        template = template if isinstance(template, str) and template.strip() and not infill else None
        return ModelInfo(path=Path(self.model_id), name=Path(self.model_id).name, arch="remote",
                         family="codegen2" if infill else "other", context_length=self.n_ctx,
                         can_infill=infill, special_ids=ids, chat_template=template)

    def describe(self) -> str:
        return f"the server at {self.url} ({self.kind})"

    # -- tokens ------------------------------------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        """llama-cpp-python's server always reads control-token text as the control token."""
        if self.kind == "llama-server":
            body = {"content": text, "add_special": False, "parse_special": special}
            return list(self._call("POST", "/tokenize", body)["tokens"])
        if self.kind == "llama-cpp-python":
            return list(self._call("POST", "/extras/tokenize", {"input": text})["tokens"])
        raise RemoteError(f"{self.describe()} has no tokenizer; the language server and chat need llama.cpp's "
                          "llama-server or llama-cpp-python's server.")

    def text_of(self, tokens: list[int]) -> str:
        if not tokens:
            return ""
        if self.kind == "llama-server":
            return str(self._call("POST", "/detokenize", {"tokens": tokens})["content"])
        if self.kind == "llama-cpp-python":
            return str(self._call("POST", "/extras/detokenize", {"tokens": tokens})["text"])
        raise RemoteError(f"{self.describe()} has no tokenizer.")

    def _prompt_text(self, tokens: list[int]) -> str:
        """Tokens as text the server reads back into the same ids: control tokens as their own text."""
        parts, run = [], []
        for token in tokens:
            if token in self.special_text:
                parts += [self.text_of(run), self.special_text[token]]
                run = []
            else:
                run.append(token)
        return "".join(parts) + self.text_of(run)

    # -- answers -----------------------------------------------------------------------------------------------

    def stream(self, prompt: list[int] | str, options: Generation) -> Answer:
        stats = Stats()
        return Answer(self._answer(prompt, options, stats), stats)

    def _answer(self, prompt: list[int] | str, options: Generation, stats: Stats) -> Iterator[str]:
        stats.prompt_tokens = len(prompt) if isinstance(prompt, list) else None
        sampling = {"temperature": options.temperature, "top_p": options.top_p, "min_p": 0.0, "repeat_penalty": 1.0,
                    "top_k": 0 if options.temperature > 0 else 40}
        if options.stop:  # the server stops there too, instead of writing on until max_tokens
            sampling["stop"] = list(options.stop)
        if self.kind == "llama-server":
            body = {"prompt": prompt, "n_predict": options.max_tokens, "stream": True, "cache_prompt": True,
                    **sampling}
            chunks = self._native_chunks(body, options, stats)
        else:
            text = self._prompt_text(prompt) if isinstance(prompt, list) else prompt
            body = {"prompt": text, "max_tokens": options.max_tokens, "stream": True, "model": self.model_id,
                    **sampling}
            chunks = self._openai_chunks(body, options, stats)
        yield from filter_stream(chunks, options, stats)

    def _native_chunks(self, body: dict, options: Generation, stats: Stats) -> Iterator[str]:
        for event in self._events("/completion", body, options):
            if event.get("content"):
                stats.generated += 1
                yield event["content"]
            if event.get("stop"):
                stats.stop = {"eos": "end", "word": "stop"}.get(event.get("stop_type"), "length")
                stats.reused_tokens = (event.get("timings") or {}).get("cache_n", event.get("tokens_cached"))

    def _openai_chunks(self, body: dict, options: Generation, stats: Stats) -> Iterator[str]:
        for event in self._events("/v1/completions", body, options):
            choice = (event.get("choices") or [{}])[0]
            stats.generated += 1
            if choice.get("finish_reason") == "stop":
                stats.stop = "end"
            yield choice.get("text", "")

    def _events(self, path: str, body: dict, options: Generation) -> Iterator[dict]:
        """Server-sent events; a cancel closes the connection at once, even while the server is still reading
        the prompt (a keystroke must not wait for a prefill it no longer needs)."""
        if options.cancel is not None and options.cancel.is_set():
            return
        target = urllib.parse.urlsplit(self.url)
        kind = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        connection = kind(target.netloc, timeout=self.timeout)
        finished = threading.Event()
        if options.cancel is not None:
            threading.Thread(target=_hang_up_on_cancel, args=(connection, options.cancel, finished),
                             daemon=True, name="cga-remote-cancel").start()
        try:
            connection.request("POST", target.path + path, json.dumps(body).encode(),
                               {"Content-Type": "application/json", "Accept": "text/event-stream"})
            response = connection.getresponse()
            if response.status >= 400:
                detail = response.read(300).decode("utf-8", errors="replace")
                raise RemoteError(f"The server at {self.url} answered HTTP {response.status} to {path}: {detail}")
            for raw in response:
                line = raw.decode("utf-8", errors="replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    yield json.loads(data)
                except ValueError as exc:
                    raise RemoteError(f"{self.describe()} sent something that is not JSON: {data[:80]!r}") from exc
        except (OSError, http.client.HTTPException) as exc:
            if options.cancel is not None and options.cancel.is_set():
                return  # we hung up
            raise RemoteError(f"Cannot reach the server at {self.url} ({exc}); is it running?") from exc
        finally:
            finished.set()
            connection.close()

    def close(self) -> None:
        """Nothing is held between requests."""

    # -- HTTP --------------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict | None = None, *, quiet: bool = False) -> dict:
        request = urllib.request.Request(self.url + path, method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with self._open(request, quiet=quiet) as response:
            try:
                answer = json.loads(response.read())
            except ValueError as exc:
                raise RemoteError(f"The server at {self.url} answered {path} with something that is not JSON.") from exc
        if not isinstance(answer, dict):
            raise RemoteError(f"The server at {self.url} answered {path} with an unexpected shape.")
        return answer

    def _open(self, request: urllib.request.Request, *, quiet: bool = False):
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            detail = "" if quiet else exc.read(300).decode("utf-8", errors="replace")
            raise RemoteError(f"The server at {self.url} answered HTTP {exc.code} to {request.full_url}"
                              + (f": {detail}" if detail else ".")) from exc
        except (urllib.error.URLError, socket.timeout, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError(f"Cannot reach the server at {self.url} ({reason}); is it running?") from exc


def _hang_up_on_cancel(connection: http.client.HTTPConnection, cancel: threading.Event,
                       finished: threading.Event) -> None:
    while not finished.wait(0.02):
        if cancel.is_set() and connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)  # the reading thread gets end-of-stream now
            except OSError:
                pass
            return


def _stem(name: str) -> str:
    """A model's name without folders and `.gguf`: what a server's model id and a --model share."""
    return Path(name).name.removesuffix(".gguf").lower()


def _check_expected(url: str, served: str, expected: str | None) -> None:
    if expected and _stem(expected) not in _stem(served) and _stem(served) not in _stem(expected):
        raise RemoteError(f"The server at {url} runs {served}, not {expected}; point --remote at the server for "
                          f"{expected}, or leave --model out to use whatever it runs.")
