"""`cga lsp` against the thinnest peer path: a bare llama-server `/completion` with `cache_prompt` (issue 22).

The same GGUF (the embedded SmolLM2), the same file (`heapq.py` from the
installed standard library, or --file), the same keystrokes: at each cursor a
few characters into a `for`/`return` line of a function body about --tokens-in
tokens into the file, a request, then --keys keystrokes, each appending the
file's next character and asking again. Greedy, single line, --threads
threads, `confidenceCut 0`, `contextTokens 2048` on our side; the peer gets
the text before the cursor as its prompt, as llama.vim's thinnest client does.
The first request at a cursor is cold for both (ours after the file is read
on opening, or with --right-away at once; with --rest S, S seconds after
the cursor came to rest there, as our editor plugins tell the server); the
rest are "warm". Reported:
warm p50 and p95 of each, how many suggestions were empty, how many were the
rest of the line the file really holds, the characters right before the first
wrong one (a mean), how many of ours equal the server's, and where our
requests' time went (from the server's log).

    python bench/race_bench.py --threads 2 --cursors 2 --keys 12
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.shared_server_bench import start_llama_server  # noqa: E402
from cga.assistant.model_choice import embedded_default  # noqa: E402
from tests.lsp.raw_client import RawServer  # noqa: E402

ANSWER_TOKENS = 48  # the language server's single-line limit (lsp/service.py SINGLE_LINE_TOKENS)
INTO_LINE = 4  # characters typed into the line before the first request


def cursors(text: str, tokens_in: int, count: int, tokenize) -> list[int]:
    """Offsets a few characters into `for`/`return` lines of function bodies, the first at about tokens_in."""
    found, offset = [], 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if indent >= 4 and stripped.startswith(("for ", "return ")) and len(stripped.rstrip()) > INTO_LINE + 12:
            if len(tokenize(text[:offset])) >= tokens_in:
                found.append(offset + indent + INTO_LINE)
                if len(found) == count:
                    return found
        offset += len(line)
    return found


def peer_completion(url: str, prompt: str) -> tuple[str, float]:
    body = {
        "prompt": prompt,
        "n_predict": ANSWER_TOKENS,
        "temperature": 0,
        "stop": ["\n"],
        "cache_prompt": True,
    }
    request = urllib.request.Request(
        f"{url}/completion", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        content = json.loads(response.read())["content"]
    return content.split("\n", 1)[0], time.perf_counter() - began


def tokenizer(url: str):
    def tokenize(text: str) -> list[int]:
        request = urllib.request.Request(
            f"{url}/tokenize", json.dumps({"content": text}).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["tokens"]

    return tokenize


def document_at(text: str, cursor: int) -> str:
    """The file as the user has it while retyping the cursor's line: the rest of that line not there yet."""
    line_end = text.find("\n", cursor)
    return text[:cursor] + text[line_end if line_end >= 0 else len(text) :]


def race_peer(url: str, text: str, points: list[int], keys: int, pause: float) -> list[list[tuple[str, float]]]:
    runs = []
    for cursor in points:
        answers = []
        for k in range(keys + 1):
            time.sleep(pause if k else 0)
            answers.append(peer_completion(url, text[: cursor + k]))
        runs.append(answers)
    return runs


def _position(text: str, offset: int) -> dict:
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def race_ours(
    model: Path, threads: int, text: str, points: list[int], keys: int, pause: float, right_away: bool, rest: float
) -> tuple[list[list[tuple[str, float]]], list[str]]:
    runs: list[list[tuple[str, float]]] = []
    options = {"model": str(model), "threads": threads, "confidenceCut": 0, "contextTokens": 2048}
    with RawServer() as server:
        server.initialize(options)
        request = 0
        for index, cursor in enumerate(points):
            uri = f"file:///race/cursor{index}.py"
            document = document_at(text, cursor)
            server.open(uri, document)
            for _ in range(0 if right_away else 1200):  # the file read whole (opening it warms the cache)
                if any("warmed the cache" in message and uri in message for message in _logs(server)):
                    break
                _drain(server)
                time.sleep(0.05)
            if rest:  # the cursor comes to rest there, as our editor plugins say, and the user looks a while
                where = {"textDocument": {"uri": uri}, "position": _position(document, cursor)}
                server.send({"jsonrpc": "2.0", "method": "cga/cursorRested", "params": where})
                time.sleep(rest)
                _drain(server)
            answers = []
            for k in range(keys + 1):
                if k:
                    time.sleep(pause)
                    where = _position(document, cursor + k - 1)
                    server.insert(uri, k + 1, where, text[cursor + k - 1])
                    document = document[: cursor + k - 1] + text[cursor + k - 1] + document[cursor + k - 1 :]
                request += 1
                began = time.perf_counter()
                server.send(
                    {
                        "jsonrpc": "2.0",
                        "id": request,
                        "method": "textDocument/inlineCompletion",
                        "params": {
                            "textDocument": {"uri": uri},
                            "position": _position(document, cursor + k),
                            "context": {"triggerKind": 2},
                        },
                    }
                )
                result = server.response(request).get("result") or {}
                elapsed = time.perf_counter() - began
                items = result.get("items", []) if isinstance(result, dict) else result
                answers.append((items[0]["insertText"] if items else "", elapsed))
            runs.append(answers)
        server.shut_down()
    return runs, _logs(server)


def _drain(server: RawServer) -> None:
    """Read the notifications that arrived (a request no one answers would block: a cheap one instead)."""
    server.send(
        {
            "jsonrpc": "2.0",
            "id": "drain",
            "method": "workspace/executeCommand",
            "params": {"command": "cga.noSuchCommand", "arguments": []},
        }
    )
    server.response("drain")


def _logs(server: RawServer) -> list[str]:
    return [m["params"]["message"] for m in server.notifications if m["method"] == "window/logMessage"]


def warm(runs: list[list[tuple[str, float]]]) -> list[float]:
    return [seconds for run in runs for _, seconds in run[1:]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cursors", type=int, default=2)
    parser.add_argument("--keys", type=int, default=12)
    parser.add_argument("--tokens-in", type=int, default=1000)
    parser.add_argument("--file", type=Path, default=Path(heapq.__file__ or "heapq.py"))
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between a keystroke's answer and the next")
    parser.add_argument(
        "--right-away", action="store_true", help="type at once in a file just opened, before it is read"
    )
    parser.add_argument(
        "--rest",
        type=float,
        default=0.0,
        help="seconds the cursor rests at its place (cga/cursorRested) before the first keystroke",
    )
    parser.add_argument("--show", action="store_true", help="print each pair of suggestions")
    args = parser.parse_args()
    text = args.file.read_text(encoding="utf-8")
    model = embedded_default()
    proc, url = start_llama_server(1, args.threads)
    try:
        points = cursors(text, args.tokens_in, args.cursors, tokenizer(url))
        peer = race_peer(url, text, points, args.keys, args.pause)
    finally:
        proc.kill()
        proc.wait()
    ours, logs = race_ours(model, args.threads, text, points, args.keys, args.pause, args.right_away, args.rest)
    pairs = [(o[0], p[0]) for ro, rp in zip(ours, peer, strict=True) for o, p in zip(ro[1:], rp[1:], strict=True)]
    # What the file really holds after each warm request's cursor: the rest of its line.
    truths = [text[c + k : text.find("\n", c + k)] for c in points for k in range(1, args.keys + 1)]
    same = sum(o.rstrip() == p.rstrip() for o, p in pairs)
    empty = sum(not o.strip() for o, _ in pairs)
    peer_empty = sum(not p.strip() for _, p in pairs)
    ms = lambda xs, q: 1000 * (statistics.median(xs) if q == 50 else statistics.quantiles(xs, n=20)[18])  # noqa: E731
    print(
        f"{args.file.name}: {len(points)} cursors, {args.keys} keystrokes each {args.pause:g} s apart, "
        f"{args.threads} threads" + (f", the cursor at rest {args.rest:g} s before the first" if args.rest else "")
    )
    print("| path | warm p50 | warm p95 | cold | empty | rest of line right | characters right |")
    print("|---|---|---|---|---|---|---|")
    for side, name, runs, blank in ((0, "cga lsp", ours, empty), (1, "llama-server /completion", peer, peer_empty)):
        cold = statistics.median(run[0][1] for run in runs) * 1000
        said = [pair[side] for pair in pairs]
        exact = sum(s.rstrip() == t.rstrip() for s, t in zip(said, truths, strict=True))
        right = statistics.mean(len(os.path.commonprefix([s, t])) for s, t in zip(said, truths, strict=True))
        print(
            f"| {name} | {ms(warm(runs), 50):.0f} ms | {ms(warm(runs), 95):.0f} ms | {cold:.0f} ms "
            f"| {blank}/{len(pairs)} | {exact}/{len(pairs)} | {right:.1f} |"
        )
    print(f"suggestions equal to the server's: {same}/{len(pairs)}")
    lines = [m for m in logs if "completion: prompt" in m]
    typed = sum("typed through" in m for m in logs)
    print(f"answered by typing through (no model call): {typed}")
    for field in ("waited", "prompt built", "first text", "generated", "request"):
        values = [float(v) for m in lines for v in re.findall(rf"{field} ([\d.]+) s", m)]
        if values:
            print(f"  {field}: p50 {statistics.median(values) * 1000:.0f} ms over {len(values)} model calls")
    reused = [
        tuple(map(int, m.groups())) for line in lines if (m := re.search(r"prompt (\d+) tokens, (\d+) reused", line))
    ]
    if reused:
        print(f"  prompt tokens recomputed per model call: p50 {statistics.median(p - r for p, r in reused):.0f}")
    if args.show:
        for ours_text, peer_text in pairs:
            print(f"  ours {ours_text!r:50} peer {peer_text!r}")


if __name__ == "__main__":
    main()
