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

import contextlib
import http.client
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from cga.core.model_info import INFILL_IDS, ModelInfo

from .backend import Answer, ConfidenceCut, Generation, Stats, filter_stream
from .errors import EngineError
from .server_url import parse_server_url, shown

INFILL_TEXT = {"mask_1": "<mask_1>", "eos": "<|endoftext|>", "sep": "<sep>", "eom": "<eom>"}
DEFAULT_CONTEXT = 2048
MAX_CONTEXT = 1 << 24  # tokens: more is not a context size any model has
# A completion server's answers are small; these bound what a misbehaving one can make us hold.
MAX_BODY_BYTES = 16 * 2**20
MAX_LINE_BYTES = 4 * 2**20
# Events a stream may send per token asked for, and beyond them: a server sends one a token and a last one, so
# a stream of empty events (which carry no token and used to keep the answer waiting forever) ends here.
EVENTS_PER_TOKEN, EVENT_SLACK = 4, 64


class RemoteError(EngineError):
    """The completion server cannot be reached, answered with an error, or runs another model."""


class RemoteBackend:
    drafts_pay = False  # drafting is the local engine's: a server decodes as it does

    def __init__(
        self,
        url: str,
        *,
        expected: str | None = None,
        context: int | None = None,
        timeout: float = 60.0,
        api_key: str | None = None,
    ) -> None:
        self.address = parse_server_url(url)
        self.url = str(self.address)  # as shown in messages: never with the password
        self.timeout = timeout
        self.api_key = api_key  # sent as Bearer where the URL carries no key of its own; never shown
        self.kind = ""  # not known until the server has answered what it is
        models = self._call("GET", "/v1/models").get("data")
        first = models[0] if isinstance(models, list) and models and isinstance(models[0], dict) else {}
        self.model_id = str(first.get("id") or "remote")[:200]
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
        for kind, path, body in (
            ("llama-server", "/tokenize", {"content": "a"}),
            ("llama-cpp-python", "/extras/tokenize", {"input": "a"}),
        ):
            try:
                if isinstance(self._call("POST", path, body, quiet=True).get("tokens"), list):
                    return kind
            except RemoteError:
                continue
        return "openai"

    def _context(self) -> int | None:
        settings = self.props.get("default_generation_settings")
        settings = settings if isinstance(settings, dict) else {}
        size = settings.get("n_ctx") or self.props.get("n_ctx") or 0
        if size is True or not isinstance(size, int) or size < 0 or size > MAX_CONTEXT:
            raise RemoteError(
                f"{self.url} reports a context size of {str(size)[:40]!r}, which is not a token "
                "count; is it llama-server?"
            )
        return size or None

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
        return ModelInfo(
            path=Path(self.model_id),
            name=Path(self.model_id).name,
            arch="remote",
            family="codegen2" if infill else "other",
            context_length=self.n_ctx,
            can_infill=infill,
            special_ids=ids,
            chat_template=template,
        )

    def describe(self) -> str:
        return f"the server at {self.url}" + (f" ({self.kind})" if self.kind else "")

    # -- tokens ------------------------------------------------------------------------------------------------

    def tokenize(self, text: str, *, special: bool = False) -> list[int]:
        """llama-cpp-python's server always reads control-token text as the control token."""
        if self.kind == "llama-server":
            body = {"content": text, "add_special": False, "parse_special": special}
            return self._tokens(self._call("POST", "/tokenize", body).get("tokens"), "/tokenize")
        if self.kind == "llama-cpp-python":
            return self._tokens(
                self._call("POST", "/extras/tokenize", {"input": text}).get("tokens"), "/extras/tokenize"
            )
        raise RemoteError(
            f"{self.describe()} has no tokenizer; the language server and chat need llama.cpp's "
            "llama-server or llama-cpp-python's server."
        )

    def _tokens(self, tokens: object, path: str) -> list[int]:
        if not isinstance(tokens, list) or not all(type(t) is int for t in tokens):
            raise RemoteError(f"{self.describe()} answered {path} without a list of token ids.")
        return tokens

    def text_of(self, tokens: list[int]) -> str:
        if not tokens:
            return ""
        if self.kind == "llama-server":
            return self._text(self._call("POST", "/detokenize", {"tokens": tokens}).get("content"), "/detokenize")
        if self.kind == "llama-cpp-python":
            return self._text(
                self._call("POST", "/extras/detokenize", {"tokens": tokens}).get("text"), "/extras/detokenize"
            )
        raise RemoteError(f"{self.describe()} has no tokenizer.")

    def _text(self, text: object, path: str) -> str:
        if not isinstance(text, str):
            raise RemoteError(f"{self.describe()} answered {path} without text.")
        return text

    def _prompt_text(self, tokens: list[int]) -> str:
        """Tokens as text the server reads back into the same ids: control tokens as their own text."""
        parts: list[str] = []
        run: list[int] = []
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
        sampling: dict[str, object] = {
            "temperature": options.temperature,
            "top_p": options.top_p,
            "min_p": 0.0,
            "repeat_penalty": 1.0,
            "top_k": 0 if options.temperature > 0 else 40,
        }
        if options.stop:  # the server stops there too, instead of writing on until max_tokens
            sampling["stop"] = list(options.stop)
        if self.kind == "llama-server":
            body = {"prompt": prompt, "n_predict": options.max_tokens, "stream": True, "cache_prompt": True, **sampling}
            if options.min_probability > 0:
                body["n_probs"] = 1  # each token's probability comes with it: the confidence cut, as locally
            # The server ends a block and a slow answer itself, by the same rules as filter_stream here.
            if options.min_indent:
                body["n_indent"] = options.min_indent
            if options.time_limit_ms:
                body["t_max_predict_ms"] = options.time_limit_ms
            chunks = self._native_chunks(body, options, stats)
        else:
            text = self._prompt_text(prompt) if isinstance(prompt, list) else prompt
            body = {
                "prompt": text,
                "max_tokens": max(options.max_tokens, 1),  # 0 is no limit to llama-cpp-python's server
                "stream": True,
                "model": self.model_id,
                **sampling,
            }
            chunks = self._openai_chunks(body, options, stats)
        yield from filter_stream(self._at_most(chunks, options, stats), options, stats)

    def _at_most(self, chunks: Iterator[str], options: Generation, stats: Stats) -> Iterator[str]:
        """The token limit, kept on this side too: a server that ignores n_predict does not write on."""
        for chunk in chunks:
            if stats.generated > options.max_tokens:  # read on to the limit's end: its event has the timings
                stats.generated, stats.stop = options.max_tokens, "length"
                return
            yield chunk

    def _native_chunks(self, body: dict, options: Generation, stats: Stats) -> Iterator[str]:
        cut = ConfidenceCut(options, options.min_probability)
        for event in self._events("/completion", body, options):
            content = event.get("content")
            if not isinstance(content, str):
                raise RemoteError(f"{self.describe()} sent a /completion event without text.")
            if content and cut.unsure(_probability(event)):
                stats.stop = "unsure"
                return  # the connection closes: the server stops writing
            if content:
                stats.generated += 1
                cut.wrote(content)
                yield content
            if event.get("stop"):
                stats.stop = {"eos": "end", "word": "stop"}.get(str(event.get("stop_type")), "length")
                timings = event.get("timings")
                cached = (timings if isinstance(timings, dict) else {}).get("cache_n", event.get("tokens_cached"))
                stats.reused_tokens = cached if type(cached) is int else None
                return
        self._ended_early(options)

    def _openai_chunks(self, body: dict, options: Generation, stats: Stats) -> Iterator[str]:
        for event in self._events("/v1/completions", body, options):
            choices = event.get("choices")
            choice = choices[0] if isinstance(choices, list) and choices else None
            if not isinstance(choice, dict) or not isinstance(choice.get("text", ""), str):
                raise RemoteError(f"{self.describe()} sent a completion event without a choice of text.")
            stats.generated += 1
            yield choice.get("text", "")
            if choice.get("finish_reason"):
                stats.stop = "end" if choice["finish_reason"] == "stop" else "length"
                return
        self._ended_early(options)

    def _ended_early(self, options: Generation) -> None:
        """A stream that closes without its last event was cut off: an error, never a short answer."""
        if options.cancel is None or not options.cancel.is_set():
            why = (
                "was given another request (start it with --interrupt_requests false to answer several at once)"
                if self.kind == "llama-cpp-python"
                else "stopped or restarted mid-answer"
            )
            raise RemoteError(f"{self.describe()} ended its answer without saying it was done; it may have {why}.")

    def _events(self, path: str, body: dict, options: Generation) -> Iterator[dict]:
        """Server-sent events, up to `data: [DONE]` (an OpenAI server) or the server's end of the stream.

        A cancel closes the connection at once, even while the server is still reading the prompt (a keystroke
        must not wait for a prefill it no longer needs), and every line is bounded: a server that sends one
        endless line, or nothing at all for the timeout, ends the answer with an error instead of a hang.
        """
        if options.cancel is not None and options.cancel.is_set():
            return
        most = EVENTS_PER_TOKEN * max(options.max_tokens, 1) + EVENT_SLACK
        events = 0
        with self._exchange("POST", path, body, options.cancel, stream=True) as response:
            quiet_since = time.monotonic()  # the last event that brought text or the end: empty ones do not count
            while response is not None:
                try:
                    raw = response.readline(MAX_LINE_BYTES + 1)
                except (OSError, http.client.HTTPException) as exc:
                    if options.cancel is not None and options.cancel.is_set():
                        return  # we hung up
                    raise RemoteError(f"The server at {self.url} broke off its answer ({exc}).") from None
                if not raw:
                    return
                if len(raw) > MAX_LINE_BYTES:
                    raise RemoteError(f"{self.describe()} sent a line longer than {MAX_LINE_BYTES // 2**20} MiB.")
                line = raw.decode("utf-8", errors="replace").strip()
                data = line[5:].strip() if line.startswith("data:") else None
                if data == "[DONE]":
                    return
                event = self._json_object(data, f"an event {data[:80]!r}") if data is not None else None
                if event is not None and _advances(event):
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since > self.timeout:
                    raise RemoteError(f"{self.describe()} sent no answer for {self.timeout:g} s.")
                if event is None:
                    continue
                events += 1
                if events > most:
                    raise RemoteError(
                        f"{self.describe()} sent {events} events for an answer of at most {options.max_tokens} "
                        "tokens without ending it."
                    )
                yield event

    def close(self) -> None:
        """Nothing is held between requests."""

    # -- HTTP --------------------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: dict | None = None, *, quiet: bool = False) -> dict:
        """One JSON request and its JSON object answer, read up to MAX_BODY_BYTES."""
        with self._exchange(method, path, body, None, quiet=quiet) as response:
            assert response is not None  # only a cancel hangs up before the answer, and there is none here
            try:
                raw = response.read(MAX_BODY_BYTES + 1)
            except (OSError, http.client.HTTPException) as exc:
                raise RemoteError(f"The server at {self.url} broke off its answer to {path} ({exc}).") from None
        if len(raw) > MAX_BODY_BYTES:
            raise RemoteError(
                f"The server at {self.url} answered {path} with more than "
                f"{MAX_BODY_BYTES // 2**20} MiB; that is not a completion server's answer."
            )
        return self._json_object(raw, f"its answer to {path}")

    def _json_object(self, data: str | bytes, what: str) -> dict:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            raise RemoteError(f"{self.describe()} sent {what}, which is not JSON.") from None
        if not isinstance(value, dict):
            raise RemoteError(f"{self.describe()} sent {what}, which is not a JSON object (an unexpected shape).")
        return value

    @contextlib.contextmanager
    def _exchange(
        self,
        method: str,
        path: str,
        body: dict | None,
        cancel: threading.Event | None,
        *,
        stream: bool = False,
        quiet: bool = False,
    ) -> Iterator[http.client.HTTPResponse | None]:
        """A request and its response (None where a cancel hung up before it came), with one rule for failures:
        a sentence naming the server, never a traceback. Redirects are not followed (a prompt goes only where
        the user pointed it)."""
        address = self.address
        kind = http.client.HTTPSConnection if address.scheme == "https" else http.client.HTTPConnection
        connection = kind(address.host, address.port, timeout=self.timeout)
        headers = {"Content-Type": "application/json"}
        if stream:
            headers["Accept"] = "text/event-stream"
        authorization = address.authorization(self.api_key)
        if authorization:
            headers["Authorization"] = authorization
        finished = threading.Event()
        try:
            try:
                connection.connect()
                # Our own hold on the socket: http.client lets go of it for a response read to the close of the
                # connection, and a cancel must still be able to hang up.
                sock = connection.sock
                if cancel is not None:
                    threading.Thread(
                        target=_hang_up_on_cancel, args=(sock, cancel, finished), daemon=True, name="cga-remote-cancel"
                    ).start()
                connection.request(
                    method, address.path + path, json.dumps(body).encode() if body is not None else None, headers
                )
                response = connection.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                if cancel is not None and cancel.is_set():
                    yield None  # we hung up before the answer: there is nothing to read
                    return
                reason = "timed out" if isinstance(exc, TimeoutError) else str(exc) or type(exc).__name__
                raise RemoteError(f"Cannot reach the server at {self.url} ({reason}); is it running?") from None
            if 300 <= response.status < 400:
                where = response.getheader("Location") or "somewhere else"
                raise RemoteError(
                    f"The server at {self.url} redirects {path} to {shown(where)}; give --remote "
                    "the address that serves the API itself."
                )
            if response.status >= 400:
                detail = "" if quiet else _read_quietly(response, 300)
                raise RemoteError(
                    f"The server at {self.url} answered HTTP {response.status} to {path}"
                    + (f": {_printable_detail(detail)}" if detail else ".")
                )
            yield response
        finally:
            finished.set()
            connection.close()


def _probability(event: dict) -> float:
    """The least probability of the tokens in a llama-server event (`n_probs`: `logprob`, or `prob` with
    `post_sampling_probs`); 1 where the event says none, so that a server without them is never cut."""
    found = event.get("completion_probabilities")
    least = 1.0
    for token in found if isinstance(found, list) else ():
        if not isinstance(token, dict):
            continue
        logprob, prob = token.get("logprob"), token.get("prob")
        if isinstance(logprob, (int, float)) and not isinstance(logprob, bool):
            least = min(least, math.exp(min(logprob, 0.0)))
        elif isinstance(prob, (int, float)) and not isinstance(prob, bool):
            least = min(least, float(prob))
    return least


def _read_quietly(response: http.client.HTTPResponse, amount: int) -> str:
    try:
        return response.read(amount).decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        return ""


def _printable_detail(text: str) -> str:
    """A server's error text as one line of plain characters."""
    return "".join(c if c.isprintable() else " " for c in text).strip()


def _hang_up_on_cancel(sock: socket.socket, cancel: threading.Event, finished: threading.Event) -> None:
    while not finished.wait(0.02):
        if cancel.is_set():
            try:
                sock.shutdown(socket.SHUT_RDWR)  # the reading thread gets end-of-stream now
            except OSError:
                pass
            return


def _stem(name: str) -> str:
    """A model's name without folders and `.gguf`: what a server's model id and a --model share."""
    return Path(name).name.removesuffix(".gguf").lower()


def _check_expected(url: str, served: str, expected: str | None) -> None:
    if expected and _stem(expected) not in _stem(served) and _stem(served) not in _stem(expected):
        raise RemoteError(
            f"The server at {url} runs {served}, not {expected}; point --remote at the server for "
            f"{expected}, or leave --model out to use whatever it runs."
        )


def _advances(event: dict) -> bool:
    """Whether a stream's event brings text or its end (llama-server's or an OpenAI server's shape)."""
    if event.get("content") or event.get("stop"):
        return True
    choices = event.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    return isinstance(choice, dict) and bool(choice.get("text") or choice.get("finish_reason"))
