"""The harness server (see the package's docstring): ClickHouse's HTTP interface, as clickhouse-connect uses it,
answered by chDB sessions on a data directory of the harness's own.

What it speaks:
- `GET /ping`; a query over `POST /` (in the body, or in the `query` parameter with the insert's data in the
  body) or `GET /?query=…`; `database`, `query_id`, `default_format`, `param_NAME` (bound parameters, in the
  engine's escaped text) and any other parameter as a setting of the query (SET on the session, reset after);
- the format of a `… FORMAT name` at the end of the query (Arrow, ArrowStream, Native, JSONEachRow, …), for
  results and for an insert's data (the engine's own input formats; `INSERT … SELECT … FROM input('…')` reads
  the data from a file of its own, as the engine's streaming insert does not take it);
- external tables (multipart form files with `NAME_structure` and `NAME_format`), made temporary tables of
  the session for the query;
- request bodies compressed with lz4, zstd, gzip or deflate (`Content-Encoding`), answers compressed as the
  client accepts when it asks (`enable_http_compression=1`);
- users: one, by HTTP basic auth, `X-ClickHouse-User`/`X-ClickHouse-Key` or `user`/`password` parameters;
  anything else is the server's code 516 answer;
- errors: the engine's code in `X-ClickHouse-Exception-Code`, its text in the body;
- `KILL QUERY WHERE query_id = {p:String} [SYNC]`: stops the running query of that id (each query carries its
  id as its `log_comment`, which the engine can kill by).
And for the tests of connection failures: `POST /harness/drop?count=N` makes it close the connection of the
next N queries without an answer; `GET /harness/drop` says how many are left. For the tests of what a client
sends: `GET /harness/log?database=NAME` lists the queries received for that database (the newest
`LOG_SIZE` of all), each as `{"query": …, "settings": {…}, "data_bytes": N}` (N: the size of an insert's
request body as it came, compressed if it was; 0 for other queries), in the order received.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import re
import sys
import threading
import uuid
import zlib
from collections import deque
from email.message import Message
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import lz4.frame
from backports import zstd

from tests.clickhouse_http.engine import NAME, STRUCTURE, Engine, HarnessError, Query

VERSION = "harness"
_QUERY_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_FORMAT_AT_END = re.compile(r"\s+FORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\b", re.IGNORECASE)
_INLINE_DATA = re.compile(rb"^(\s*INSERT\s+INTO\b.*?\bFORMAT\s+[A-Za-z0-9_]+)[ \t]*\r?\n", re.IGNORECASE | re.DOTALL)
"""An INSERT whose data follows it in the body, after its line."""
_HTTP_ONLY = {
    "query", "database", "query_id", "default_format", "user", "password", "quota_key", "session_id",
    "session_timeout", "session_check", "compress", "decompress", "enable_http_compression",
    "http_zlib_compression_level", "wait_end_of_query", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "buffer_size", "client_protocol_version",
    "cancel_http_readonly_queries_on_client_close",
}  # fmt: skip
"""Parameters of the HTTP interface that are not settings of the query."""
_STATUS = {516: 401, 192: 401, 193: 401, 194: 401, 60: 404, 81: 404, 62: 400, 115: 400, 47: 400}
_ENCODINGS = ("lz4", "zstd", "gzip", "deflate")
LOG_SIZE = 20_000


def compress(data: bytes, encoding: str) -> bytes:
    if encoding == "lz4":
        return bytes(lz4.frame.compress(data))
    if encoding == "zstd":
        return bytes(zstd.compress(data))
    if encoding == "gzip":
        return gzip.compress(data)
    return zlib.compress(data)


def decompress(data: bytes, encoding: str) -> bytes:
    if encoding in ("", "identity"):
        return data
    if encoding == "lz4":
        return bytes(lz4.frame.decompress(data))
    if encoding == "zstd":
        return bytes(zstd.decompress(data))
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    raise HarnessError(1001, f"unsupported Content-Encoding {encoding!r}")


class Harness(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, engine: Engine, user: str, password: str) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.engine = engine
        self.user = user
        self.password = password
        self.drops = 0
        self.drops_lock = threading.Lock()
        self.received: deque[tuple[str, str, dict[str, str], int]] = deque(maxlen=LOG_SIZE)
        """(database, query, settings, bytes of data) of each query received, the newest `LOG_SIZE`."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # an answer's headers and body go out at once, not 40 ms apart
    wbufsize = 1 << 16  # and in one write when the body is small (flushed once the request is answered)
    server: Harness

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the tests read answers, not logs
        pass

    def do_GET(self) -> None:
        self._handle(b"")

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # how the client streams an insert
            self._handle(self._chunks())
        else:
            self._handle(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def _chunks(self) -> bytes:
        body = bytearray()
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass
        return bytes(body)

    def _handle(self, body: bytes) -> None:
        url = urlsplit(self.path)
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/ping":
            self._answer(200, b"Ok.\n", {})
        elif url.path == "/harness/drop":
            if self.command == "POST":
                with self.server.drops_lock:
                    self.server.drops = int(params.get("count", "1"))
            self._answer(200, str(self.server.drops).encode(), {})
        elif url.path == "/harness/log":
            database = params.get("database", "default")
            logged = [
                {"query": q, "settings": s, "data_bytes": n}
                for d, q, s, n in list(self.server.received)
                if d == database
            ]
            self._answer(200, json.dumps(logged).encode(), {"Content-Type": "application/json"})
        elif self._dropped():
            self.close_connection = True
        else:
            self._run(params, body)

    def _dropped(self) -> bool:
        with self.server.drops_lock:
            drop, self.server.drops = self.server.drops > 0, max(0, self.server.drops - 1)
        return drop

    def _run(self, params: dict[str, str], body: bytes) -> None:
        query_id = params.get("query_id") or f"harness-{uuid.uuid4().hex}"
        try:
            self._authenticate(params)
            query = self._query(params, body, query_id)
            sent = len(body) if query.data is not None else 0
            self.server.received.append((query.database, query.sql, dict(query.settings), sent))
            result, output = self.server.engine.run(query)
        except HarnessError as error:
            text = f"Code: {error.code}. DB::Exception: {error}"
            text = text if "(version" in text else f"{text} (version {VERSION})"
            headers = {"X-ClickHouse-Exception-Code": str(error.code), "X-ClickHouse-Query-Id": query_id}
            self._answer(_STATUS.get(error.code, 500), (text + "\n").encode(), headers)
            return
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Format": output,
            "X-ClickHouse-Timezone": "UTC",
            "X-ClickHouse-Summary": json.dumps({"read_rows": "0", "written_rows": "0"}),
        }
        if params.get("enable_http_compression") == "1":
            accepted = [e.strip() for e in self.headers.get("Accept-Encoding", "").split(",")]
            encoding = next((e for e in accepted if e in _ENCODINGS), None)
            if encoding:
                result = compress(result, encoding)
                headers["Content-Encoding"] = encoding
        self._answer(200, result, headers)

    def _authenticate(self, params: dict[str, str]) -> None:
        user, password = params.get("user", "default"), params.get("password", "")
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
        if "X-ClickHouse-User" in self.headers:
            user, password = self.headers["X-ClickHouse-User"], self.headers.get("X-ClickHouse-Key", "")
        if (user, password) != (self.server.user, self.server.password):
            raise HarnessError(
                516,
                f"{user}: Authentication failed: password is incorrect, or there is no user with such name. "
                "(AUTHENTICATION_FAILED)",
            )

    def _query(self, params: dict[str, str], body: bytes, query_id: str) -> Query:
        if not _QUERY_ID.match(query_id):
            raise HarnessError(1001, f"the harness takes query ids of [A-Za-z0-9_.:-] only, not {query_id!r}")
        body = decompress(body, self.headers.get("Content-Encoding", ""))
        files: dict[str, bytes] = {}
        if self.headers.get("Content-Type", "").startswith("multipart/form-data"):
            files = self._form(body, params)
            body = b""
        sql, data = params.get("query"), None
        if sql is None:
            inline = _INLINE_DATA.match(body)
            if inline:
                sql, data = inline.group(1).decode(), body[inline.end() :]
            else:
                sql = body.decode()
            body = b""
        elif body:
            if _INSERT.match(sql):
                data = body
            else:
                sql = f"{sql}\n{body.decode()}"
        output = params.get("default_format", "TabSeparated")
        fmt = _FORMAT_AT_END.search(sql)
        if fmt:
            sql, output = sql[: fmt.start()], fmt.group(1)
        database = params.get("database", "default")
        if not NAME.match(database):
            raise HarnessError(81, f"Database {database} does not exist. (UNKNOWN_DATABASE)")
        external = {}
        for name, content in files.items():
            structure = params.get(f"{name}_structure", "")
            if not NAME.match(name) or not STRUCTURE.match(structure):
                raise HarnessError(1001, f"external table {name!r} needs a {name}_structure the harness reads")
            external[name] = (structure, params.get(f"{name}_format", "TabSeparated"), content)
        not_settings = _HTTP_ONLY | {f"{name}_{part}" for name in files for part in ("structure", "format", "types")}
        return Query(
            sql=sql,
            database=database,
            query_id=query_id,
            output=output,
            params={k.removeprefix("param_"): v for k, v in params.items() if k.startswith("param_")},
            settings={k: v for k, v in params.items() if k not in not_settings and not k.startswith("param_")},
            data=data if data is not None and _INSERT.match(sql) else None,
            input_format=output,
            external=external,
        )

    def _form(self, body: bytes, params: dict[str, str]) -> dict[str, bytes]:
        """The files of a multipart form (external tables); its plain fields join `params`."""
        head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
        files = {}
        parts: list[Message] = BytesParser().parsebytes(head + body).get_payload()  # type: ignore[assignment]
        for part in parts:
            name = part.get_param("name", header="content-disposition")
            content: bytes = part.get_payload(decode=True) or b""  # type: ignore[assignment]
            if part.get_filename() is None:
                params[str(name)] = content.decode()
            else:
                files[str(name)] = content
        return files

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    parser = argparse.ArgumentParser(description="the ClickHouse HTTP test harness on chDB (tests only)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default="default")
    parser.add_argument("--password", default="")
    parser.add_argument("--sessions", type=int, default=6)
    args = parser.parse_args()
    harness = Harness(args.port, Engine(args.data_dir, args.sessions), args.user, args.password)
    print("ready", flush=True)
    sys.stdout.close()
    harness.serve_forever()


if __name__ == "__main__":
    main()
