"""A local stand-in for the Hugging Face hub: the parts of its HTTP API that downloads use.

huggingface-hub's real code talks to it through HF_ENDPOINT: model info,
the recursive file tree, and `resolve` URLs with ETag, X-Repo-Commit, HEAD
and Range requests (so interrupted downloads resume). It can cut a file's
download short to simulate a dropped connection, and it logs every request.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Hub:
    def __init__(self) -> None:
        self.repos: dict[str, Path] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range header
        # file name -> byte limits, one per coming GET of it: the connection drops after that many bytes
        self.cuts: dict[str, list[int]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, repo_id: str, folder: Path) -> None:
        self.repos[repo_id] = folder

    def __enter__(self) -> Hub:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def files(self, repo_id: str) -> list[Path]:
        folder = self.repos[repo_id]
        return sorted(p for p in folder.rglob("*") if p.is_file())

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _json(self, value) -> None:
                data = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _missing(self, message: str) -> None:
                data = json.dumps({"error": message}).encode()
                self.send_response(404)
                self.send_header("X-Error-Code", "RepoNotFound" if "repo" in message.lower() else "EntryNotFound")
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path, self.headers.get("Range")))
                if m := (
                    re.fullmatch(r"/api/models/(.+?)/revision/([^/]+)", path)
                    or re.fullmatch(r"/api/models/([^/]+/[^/]+)()", path)
                ):
                    repo = m.group(1)
                    if repo not in hub.repos:
                        return self._missing("Repository not found")
                    return self._json(
                        {
                            "id": repo,
                            "modelId": repo,
                            "sha": COMMIT,
                            "private": False,
                            "siblings": [
                                {"rfilename": f.relative_to(hub.repos[repo]).as_posix()} for f in hub.files(repo)
                            ],
                        }
                    )
                if m := re.fullmatch(r"/api/models/(.+?)/tree/([^/]+)(/.*)?", path):
                    repo = m.group(1)
                    if repo not in hub.repos:
                        return self._missing("Repository not found")
                    return self._json(
                        [
                            {
                                "type": "file",
                                "oid": _oid(f),
                                "size": f.stat().st_size,
                                "path": f.relative_to(hub.repos[repo]).as_posix(),
                                **(
                                    {"lfs": {"oid": _sha256(f), "size": f.stat().st_size, "pointerSize": 134}}
                                    if _is_lfs(f)
                                    else {}
                                ),
                            }
                            for f in hub.files(repo)
                        ]
                    )
                if m := re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path):
                    repo, _, name = m.groups()
                    file = hub.repos.get(repo, Path("/nonexistent")) / name
                    if repo not in hub.repos or not file.is_file():
                        return self._missing("Entry not found")
                    return self._file(file, name, body)
                return self._missing("Repository not found")

            def _file(self, file: Path, name: str, body: bool) -> None:
                data = file.read_bytes()
                start = 0
                if (rng := self.headers.get("Range")) and (m := re.fullmatch(r"bytes=(\d+)-", rng)):
                    start = int(m.group(1))
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{_sha256(file) if _is_lfs(file) else _oid(file)}"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return
                limits = hub.cuts.get(name)
                cut = limits.pop(0) if limits else None
                if cut is not None and start + cut < len(data):
                    self.wfile.write(data[start : start + cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # a dropped connection, mid-file
                    return
                self.wfile.write(data[start:])

        return Handler


def _oid(file: Path) -> str:
    return hashlib.sha1(file.read_bytes()).hexdigest()


def _is_lfs(file: Path) -> bool:
    """Weights live in LFS on the hub, whose ETag for them is the file's sha256."""
    return file.suffix in (".safetensors", ".bin")


def _sha256(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


def resumed_from(hub: Hub, name: str) -> list[int]:
    """Byte offsets from which downloads of name were resumed (Range requests)."""
    return [
        int(r.split("=")[1].rstrip("-"))
        for method, path, r in hub.requests
        if method == "GET" and path.endswith("/" + name) and r
    ]
