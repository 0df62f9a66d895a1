"""`divfit serve` as a writer uses it: a real server process, a real browser
page left open, and edits saved to the project's files."""

from __future__ import annotations

import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from divcore.project import init

SCENE = "forward-reverse-kl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`divfit serve` in a project folder, its terminal lines collected as they come."""

    def __init__(self, folder: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "divcore", "serve", "--port", str(self.port), "--quality", "low", "--jobs", "2"],
            cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 120) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.proc.poll() is None, f"divfit serve exited: {self.seen}"
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s: {self.seen}")

    def listening_addresses(self) -> set[str]:
        """The local addresses of this port's listening sockets, from the kernel's table."""
        found = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for row in Path(table).read_text().splitlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                address, port = local.split(":")
                if state == "0A" and int(port, 16) == self.port:  # 0A: LISTEN
                    found.add(address)
        return found


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = init(tmp_path_factory.mktemp("writer") / "my-post")
    server = Server(folder)
    server.wait_for(r"^serving http://127\.0\.0\.1:")
    server.wait_for(r"^built in ")
    yield folder, server
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait()


def test_it_listens_on_loopback_only_and_a_build_does_not_set_off_another(served):
    _, server = served
    assert server.listening_addresses() == {"0100007F"}  # 127.0.0.1, and nothing else
    time.sleep(2)  # the build read every scene: reading is not saving
    assert server.lines.empty(), server.lines.get()


def test_an_edit_reloads_the_open_page_and_a_broken_file_shows_its_error(served, browser):
    folder, server = served
    scene = folder / "scenes" / f"{SCENE}.toml"
    original = scene.read_text()
    page = browser.new_page()
    page.goto(f"{server.url}scenarios/{SCENE}.html#run=reverse&step=40")
    assert "One two-mode target" in page.inner_text("main")

    # a saved edit: the open page reloads by itself, at the frame it was on
    scene.write_text(original.replace("One two-mode target", "A retitled two-mode target"))
    server.wait_for(r"^built in ")
    page.wait_for_function("document.querySelector('main').innerText.includes('A retitled two-mode target')",
                           timeout=15_000)
    assert page.url.endswith("#run=reverse&step=40")

    # a mistake: one line in the terminal, the error over the page, the server still up
    scene.write_text(original.replace("lr = 0.05", "lr = -1"))
    line = server.wait_for(r"^error: ")
    assert re.match(r"error: scenes/forward-reverse-kl\.toml: [a-z.\[\]0-9]*lr: ", line), line
    page.wait_for_selector("#divfit-serve-error", timeout=15_000)
    assert "lr" in page.inner_text("#divfit-serve-error")
    assert "A retitled" in page.inner_text("main")  # the last good build stays

    # fixed: the error goes and the page shows the new build
    scene.write_text(original)
    server.wait_for(r"^built in ")
    page.wait_for_function("!document.getElementById('divfit-serve-error') && "
                           "document.querySelector('main').innerText.includes('One two-mode target')", timeout=15_000)
    page.close()
    # what is served gets the reload script; what is built does not
    assert not any("__divfit__" in p.read_text() for p in (folder / "build" / "site").rglob("*.html"))


def test_ctrl_c_stops_it_cleanly(served):
    _, server = served
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=30) == 0
