"""`sightline serve` over TLS (`--tls-cert`, `--tls-key`, or `SIGHTLINE_TLS_CERT`, `SIGHTLINE_TLS_KEY`): real
HTTPS from a subprocess, and a one-line error (exit 2) for a certificate or key it cannot use."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import trustme

from sightline.cli import main

HOST = "collector.test"


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory, authority: trustme.CA) -> tuple[Path, Path]:
    """(certificate chain, key) for `HOST` and 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    issued = authority.issue_cert(HOST, "127.0.0.1")
    cert, key = directory / "cert.pem", directory / "key.pem"
    for i, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(cert), append=i > 0)
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize("by", ["flags", "environment"])
def test_serve_answers_over_tls(tmp_path: Path, tls_files: tuple[Path, Path], authority: trustme.CA, by: str) -> None:
    cert, key = tls_files
    port = _free_port()
    command = [sys.executable, "-m", "sightline", "serve", "--data-dir", str(tmp_path / "data"), "--port", str(port)]
    env = dict(os.environ)
    if by == "flags":
        command += ["--tls-cert", str(cert), "--tls-key", str(key)]
    else:
        env |= {"SIGHTLINE_TLS_CERT": str(cert), "SIGHTLINE_TLS_KEY": str(key)}
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline, answer = time.monotonic() + 90, None
        while answer is None and time.monotonic() < deadline:
            assert server.poll() is None, server.communicate()[1]
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=2, context=trusting) as r:
                    answer = r.status
            except OSError:
                time.sleep(0.3)
        assert answer == 200
    finally:
        server.terminate()
        server.wait(30)
        assert server.stderr is not None
        server.stderr.close()


@pytest.mark.parametrize(
    ("which", "problem", "expected"),
    [
        ("cert", "missing", "cannot read the TLS certificate"),
        ("key", "missing", "cannot read the TLS key"),
        ("key", "unreadable", "cannot read the TLS key"),
        ("key", "not a key", "do not load as a PEM certificate chain and its private key"),
        ("key", "another's", "is not the private key of the certificate"),
        ("key", "alone", "go together"),
    ],
)
def test_a_certificate_or_key_it_cannot_use_is_one_line_and_exit_2(
    tmp_path: Path,
    tls_files: tuple[Path, Path],
    authority: trustme.CA,
    capsys: pytest.CaptureFixture[str],
    which: str,
    problem: str,
    expected: str,
) -> None:
    cert, key = tls_files
    broken = tmp_path / f"{which}.pem"
    if problem == "unreadable":
        broken.write_bytes(key.read_bytes())
        broken.chmod(0)
        if os.access(broken, os.R_OK):
            broken = tmp_path  # root reads any file: a directory is unreadable as a file to everyone
    elif problem == "another's":
        authority.issue_cert("elsewhere.test").private_key_pem.write_to_path(str(broken))
    elif problem == "not a key":
        broken.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    paths = {"cert": cert, "key": key, which: broken}
    flags = ["--tls-key", str(paths["key"])] if problem == "alone" else [
        "--tls-cert", str(paths["cert"]), "--tls-key", str(paths["key"])
    ]  # fmt: skip
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--data-dir", str(tmp_path / "data"), "--port", str(_free_port()), *flags])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("sightline: "), error
    assert error.count("\n") == 1, error
    assert expected in error, error
    assert not (tmp_path / "data").exists(), "nothing is opened before the certificate and key are checked"


def test_serve_logs_json_lines_that_carry_the_request_id(tmp_path: Path) -> None:
    """With `SIGHTLINE_LOG_FORMAT=json`, every line `sightline serve` writes is a JSON object (the server's own
    too), and the access line of a request names its id."""
    port = _free_port()
    command = [sys.executable, "-m", "sightline", "serve", "--data-dir", str(tmp_path / "data"), "--port", str(port)]
    env = dict(os.environ) | {"SIGHTLINE_LOG_FORMAT": "json", "SIGHTLINE_ACCESS_LOG": "true"}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, answer = time.monotonic() + 90, None
        while answer is None and time.monotonic() < deadline:
            assert server.poll() is None, server.communicate()[1]
            request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "serve-1"})
            try:
                with urllib.request.urlopen(request, timeout=2) as response:
                    answer = response.status
            except OSError:
                time.sleep(0.3)
        assert answer == 200
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any(line["logger"].startswith("uvicorn") for line in lines), stderr
    (access,) = [line for line in lines if line.get("request_id") == "serve-1"]
    assert access["logger"] == "sightline.access"
    assert access["route"] == "/healthz"
    assert access["status"] == 200
