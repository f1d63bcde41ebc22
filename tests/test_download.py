"""lmbook.data.download: checked, cached, never a partial file; against a local server.

Every test serves files from 127.0.0.1 with the standard library's HTTP server, so
nothing leaves the machine.
"""

import hashlib
import http.server
import threading

import pytest

from lmbook.data import download

GOOD = b"to be, or not to be\n" * 1000


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the standard library's name)
        self.server.hits += 1
        if self.path == "/good.txt":
            body, length = GOOD, len(GOOD)
        elif self.path == "/changed.txt":
            body, length = GOOD.replace(b"be", b"bee"), None
        elif self.path == "/truncated.txt":  # promises all, sends half, hangs up
            body, length = GOOD[: len(GOOD) // 2], len(GOOD)
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(length if length is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.hits = 0
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def url(server, name):
    return f"http://127.0.0.1:{server.server_address[1]}/{name}"


SHA = hashlib.sha256(GOOD).hexdigest()


def test_a_good_file_is_downloaded_once_and_then_served_from_the_cache(server, tmp_path):
    path = download(url(server, "good.txt"), SHA, tmp_path)
    assert path == tmp_path / "good.txt" and path.read_bytes() == GOOD
    assert download(url(server, "good.txt"), SHA.upper(), tmp_path) == path
    assert server.hits == 1  # the second call did not touch the network
    path.write_bytes(GOOD[:-1])  # damaged on disk: fetched again
    assert download(url(server, "good.txt"), SHA, tmp_path).read_bytes() == GOOD
    assert server.hits == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.txt"]


def test_a_file_that_does_not_match_its_checksum_is_refused_and_not_kept(server, tmp_path):
    with pytest.raises(ValueError, match=r"changed.txt does not match its checksum.*nothing"):
        download(url(server, "changed.txt"), SHA, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_download_is_refused_and_not_kept(server, tmp_path):
    with pytest.raises(ValueError, match=r"truncated\.txt is truncated: 10,000 of 20,000 bytes"):
        download(url(server, "truncated.txt"), SHA, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_url_says_the_book_needs_no_network(server, tmp_path):
    with pytest.raises(ConnectionError, match=r"could not download .*missing.txt.*never needs"):
        download(url(server, "missing.txt"), SHA, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, error, match",
    [
        (("ftp://example.org/a.txt", SHA), ValueError, "url must be a URL starting http"),
        (("https://", SHA), ValueError, "url must be a URL"),
        ((b"https://x/a", SHA), TypeError, "url must be a str"),
        (("https://x/a", "abc"), ValueError, "sha256 must be a SHA-256 digest.*3 characters"),
        (("https://x/a", "z" * 64), ValueError, "sha256 must be a SHA-256 digest"),
        (("https://x/a", None), TypeError, "sha256 must be a str"),
        (("https://x/a", SHA, 3), TypeError, "cache_dir must be a str, a Path or None"),
        (("https://x/a", SHA, None, 0), ValueError, "timeout must be"),
    ],
)
def test_bad_arguments_are_named(args, error, match):
    with pytest.raises(error, match=match):
        download(*args)
