"""`divfit serve`: build, serve the site on 127.0.0.1, rebuild on save, reload the page.

Pages go out as built plus one small script, added while serving and never
written into build/site: it asks the server every half second which build it
is on, reloads when a newer build has finished, and shows a failed build's
error over the page (which stays the last good build, as the site on disk
does). The server only ever listens on 127.0.0.1.
"""

from __future__ import annotations

import functools
import html
import json
import sys
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ..errors import BuildError
from ..scenario import ScenarioError

STATUS = "/__divfit__/status"
WATCHED = {".toml", ".md"}  # scenes, divfit.toml, the prose
QUIET = 0.3  # seconds without a change before rebuilding (an editor's save is several events)

_SCRIPT = """<script>/* divfit serve: reload after a rebuild */
(function () {
  var seen = %d;
  function show(error) {
    var box = document.getElementById("divfit-serve-error");
    if (!error) { if (box) box.remove(); return; }
    if (!box) {
      box = document.createElement("pre");
      box.id = "divfit-serve-error";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;left:0;right:0;bottom:0;max-height:50vh;overflow:auto;margin:0;" +
        "padding:1em;background:#fff1f0;color:#7a0000;border-top:3px solid #b00;" +
        "font:14px/1.4 monospace;white-space:pre-wrap;z-index:2147483647";
      document.body.appendChild(box);
    }
    box.textContent = "divfit: the build failed; this page is the last good build.\\n" + error;
  }
  function poll() {
    fetch("%s", {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
      if (s.build !== seen && !s.error) { location.reload(); return; }
      seen = s.build;
      show(s.error);
    }).catch(function () {}).then(function () { setTimeout(poll, 500); });
  }
  poll();
})();
</script>
"""


class Status:
    """The latest build: its number (counting failed ones) and its error, if it failed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.build = 0
        self.error: str | None = None

    def finished(self, error: str | None) -> None:
        with self.lock:
            self.build += 1
            self.error = error

    def snapshot(self) -> dict:
        with self.lock:
            return {"build": self.build, "error": self.error}


class _Handler(SimpleHTTPRequestHandler):
    status: Status

    def do_GET(self) -> None:  # noqa: N802 -- the http.server name
        route = self.path.split("?", 1)[0].split("#", 1)[0]
        if route == STATUS:
            return self._send(json.dumps(self.status.snapshot()).encode(), "application/json")
        target = Path(self.translate_path(route))
        if target.is_dir():
            target = target / "index.html"
        if target.suffix == ".html" and target.is_file():
            return self._send(self._with_script(target.read_text(encoding="utf-8")).encode(), "text/html; charset=utf-8")
        if route in ("/", "/index.html"):  # no site yet: say why, and wait for one
            snap = self.status.snapshot()
            why = html.escape(snap["error"] or "building…")
            page = f"<!doctype html><title>divfit serve</title><p>No site yet.</p><pre>{why}</pre>"
            return self._send(self._with_script(page + "</body>").encode(), "text/html; charset=utf-8")
        return super().do_GET()

    def _with_script(self, page: str) -> str:
        script = _SCRIPT % (self.status.snapshot()["build"], STATUS)
        cut = page.rfind("</body>")
        return page[:cut] + script + page[cut:] if cut >= 0 else page + script

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # the terminal is for builds
        pass


def _watch(folders: list[Path], changed: threading.Event):
    from watchdog.events import FileSystemEventHandler
    from watchdog.observers import Observer

    class OnSave(FileSystemEventHandler):
        def on_any_event(self, event) -> None:
            if event.event_type not in ("created", "modified", "moved", "deleted"):
                return  # the build reading the files is not a change (opened, closed)
            paths = [event.src_path, getattr(event, "dest_path", "") or ""]
            if any(Path(str(p)).suffix in WATCHED for p in paths if p):
                changed.set()

    observer = Observer()
    for folder, recursive in folders:
        if folder.is_dir():
            observer.schedule(OnSave(), str(folder), recursive=recursive)
    observer.daemon = True
    observer.start()
    return observer


def serve(args, build_here) -> int:
    """Build, then serve and rebuild on every save until Ctrl-C."""
    from ..project import load_project

    status = Status()
    said: set[str] = set()

    def announce(line: str) -> None:
        if line not in said:  # the same note at every rebuild is noise
            said.add(line)
            print(line, file=sys.stderr, flush=True)

    def rebuild() -> None:
        start = time.monotonic()
        try:
            # an edit may drop a run for a moment: its record stays for when it comes back
            _, rep = build_here(args, announce=announce, prune=False)
        except (ScenarioError, BuildError) as err:
            error = str(err)
        except Exception as err:  # noqa: BLE001 -- shown, and the server keeps going
            error = f"{type(err).__name__}: {err}"
        else:
            made = ", ".join(f"{n} {stage}" for stage, n in rep.built.items() if n) or "nothing to redo"
            print(f"built in {time.monotonic() - start:.1f}s ({made})", flush=True)
            status.finished(None)
            return
        print(f"error: {error}", file=sys.stderr, flush=True)
        status.finished(error)

    site = Path(args.out) / "site"
    site.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(type("Handler", (_Handler,), {"status": status}), directory=str(site))
    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as err:
        raise BuildError(f"cannot serve on 127.0.0.1:{args.port} ({err.strerror}); choose another with --port N") from None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    project = load_project(".")
    scenes = Path(args.scenes or project.scenes)
    content = Path(args.content or project.content)
    changed = threading.Event()
    observer = _watch([(scenes, True), (content, True), (Path("."), False)], changed)
    print(f"serving http://127.0.0.1:{args.port}/ and rebuilding when {scenes}/, {content}/ or divfit.toml "
          f"change (Ctrl-C stops)", flush=True)
    try:
        rebuild()
        while True:
            changed.wait()
            while changed.is_set():  # let the editor finish saving
                changed.clear()
                time.sleep(QUIET)
            rebuild()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
        return 0
    finally:
        observer.stop()
        server.shutdown()
        server.server_close()
