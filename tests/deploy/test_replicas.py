"""deploy/replicas.py and the nginx site it makes (deploy/nginx/resnet-viz.conf.template), with Debian's nginx:
the config is valid, and the cookie pins a browser to the replica that answered it, also across a replica that goes
away and comes back. The replicas here are small HTTP servers that say their name; tests/app/test_scale_out.py
runs the real app behind the same nginx."""

from __future__ import annotations

import gzip
import http.server
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from deploy.replicas import COOKIE, NGINX, ROOT, STOP_MARGIN_S, free_port, main_config, render_site, start_nginx
from tests.conftest import REAL_SERVERS

pytestmark = pytest.mark.skipif(not Path(NGINX).is_file(), reason=f"no nginx at {NGINX} (apt-get install nginx)")


SCRIPT = b"export const replica = 'a script as Streamlit sends one: uncompressed';\n" * 400
PICTURE = bytes(range(256)) * 40


class Named(http.server.ThreadingHTTPServer):
    """A replica that answers every request with its name, except a script (``.js``) and a picture (``.jpg``)."""

    def __init__(self, port: int, name: str) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body, kind = {".js": (SCRIPT, "application/javascript"), ".jpg": (PICTURE, "image/jpeg")}.get(
                    Path(self.path).suffix, (name.encode(), "text/plain"))
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", port), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@contextmanager
def balancer(tmp_path: Path, count: int) -> Iterator[tuple[str, list[int], dict[int, Named]]]:
    ports = [free_port() for _ in range(count)]
    servers = {k: Named(port, f"replica {k}") for k, port in enumerate(ports, start=1)}
    port = free_port()
    nginx = start_nginx(tmp_path, [f"127.0.0.1:{p}" for p in ports], f"127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}", ports, servers
    finally:
        nginx.terminate()
        nginx.wait(10)
        for s in servers.values():
            s.stop()


def get(url: str, cookie: str | None = None) -> tuple[str, str | None]:
    """(the name of the replica that answered, the replica cookie the answer sets)."""
    request = urllib.request.Request(url, headers={"Cookie": f"{COOKIE}={cookie}"} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as answer:
        name = answer.read().decode()
        sets = [h for h in answer.headers.get_all("Set-Cookie") or [] if h.startswith(f"{COOKIE}=")]
    return name, sets[0].split(";")[0].split("=", 1)[1] if sets else None


def test_the_site_is_valid_nginx(tmp_path):
    site = tmp_path / "site.conf"
    site.write_text(render_site(["127.0.0.1:8501", "127.0.0.1:8502"], "127.0.0.1:8080", str(tmp_path / "a.log")))
    conf = tmp_path / "nginx.conf"
    conf.write_text(main_config(tmp_path, site))
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "e.log"), "-c", str(conf)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    site.write_text(site.read_text().replace("least_conn;", "least_conn"))  # and a broken one is not
    assert subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "e.log"), "-c", str(conf)],
                          capture_output=True).returncode != 0


def test_a_template_name_left_unfilled_is_refused(monkeypatch, tmp_path):
    template = tmp_path / "t.conf"
    template.write_text("listen @LISTEN@; @SOMETHING_NEW@\n")
    monkeypatch.setattr("deploy.replicas.TEMPLATE", template)
    with pytest.raises(ValueError, match="SOMETHING_NEW"):
        render_site(["127.0.0.1:1"], "127.0.0.1:2", "/dev/null")


def test_a_browser_stays_with_the_replica_that_first_answered_it(tmp_path):
    with balancer(tmp_path, 3) as (url, _, _):
        first = [get(url) for _ in range(6)]  # six browsers without the cookie
        assert all(name == f"replica {cookie}" for name, cookie in first), first
        assert len({cookie for _, cookie in first}) == 3  # spread over the replicas
        for name, cookie in first:
            assert {get(f"{url}/media/x.png", cookie)[0] for _ in range(5)} == {name}


def test_an_unknown_cookie_is_treated_as_none(tmp_path):
    with balancer(tmp_path, 2) as (url, _, _):
        for forged in ("9", "127.0.0.1:22", "../etc"):
            name, cookie = get(url, forged)
            assert name == f"replica {cookie}"


def test_when_its_replica_goes_the_browser_moves_to_one_other_and_stays_there(tmp_path):
    with balancer(tmp_path, 3) as (url, ports, servers):
        _, pinned = get(url)
        servers[int(pinned)].stop()  # the replica crashed
        moved = [get(url, pinned) for _ in range(3)]
        new = moved[0][1]
        assert new and new != pinned and moved[0][0] == f"replica {new}"
        assert get(url, new)[0] == f"replica {new}"  # the browser now sends the new cookie
        servers[int(pinned)] = Named(ports[int(pinned) - 1], f"replica {pinned}")  # the replica is back
        assert {get(url, new)[0] for _ in range(5)} == {f"replica {new}"}  # its session is not split again
        assert get(url, pinned)[0] == f"replica {pinned}"


def test_each_request_s_replica_is_in_the_access_log(tmp_path):
    with balancer(tmp_path, 2) as (url, _, _):
        _, cookie = get(url)
        get(url, cookie)
    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) == 2 and all('upstream="127.0.0.1:' in line for line in lines)
    assert f'replica_cookie="{cookie}"' in lines[1] and 'replica_cookie="-"' in lines[0]  # "-": none


def test_scripts_reach_the_browser_compressed_and_pictures_as_they_are(tmp_path):
    def fetch(url: str, gzip_ok: bool) -> tuple[bytes, str | None]:
        request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.read(), answer.headers.get("Content-Encoding")

    with balancer(tmp_path, 1) as (url, _, _):
        body, encoding = fetch(f"{url}/static/js/index.js", True)
        assert encoding == "gzip" and gzip.decompress(body) == SCRIPT and len(body) < len(SCRIPT) / 3
        assert fetch(f"{url}/static/js/index.js", False) == (SCRIPT, None)  # a client that cannot unzip
        assert fetch(f"{url}/media/x.jpg", True) == (PICTURE, None)


@pytest.mark.slow
@REAL_SERVERS
def test_the_script_serves_through_nginx_and_stops_the_replicas_before_nginx(tmp_path):
    """`python deploy/replicas.py` as an operator runs it: it says where to go, serves the app through nginx, and a
    Ctrl+C (SIGINT to the script alone) drains each replica, then stops nginx; exit status 0."""
    port = free_port()
    script = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "replicas.py"), "--replicas", "2", "--port",
                               str(port), "--first-port", str(free_port()), "--folder", str(tmp_path)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "RESNET_VIZ_OFFLINE": "1", "HOME": str(tmp_path)})
    try:
        first = script.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first, first + script.stdout.read()
        name, cookie = get(f"http://127.0.0.1:{port}/_stcore/health")
        assert name == "ok" and cookie in ("1", "2")
        script.send_signal(signal.SIGINT)
        assert script.wait(STOP_MARGIN_S + 60) == 0
    finally:
        script.kill()
    logs = [(tmp_path / f"replica-{k}.log").read_text() for k in (1, 2)]
    assert all("Stopping..." in log for log in logs), logs
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)


@pytest.mark.slow
@REAL_SERVERS
@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads /proc/PID/maps (Linux)")
def test_a_replica_imports_torch_before_its_first_student(tmp_path):
    """Replicas runs each replica's script once (Streamlit's script health check, ``WARM_UP_PATH``): its warm-up
    imports torch while no session is open, instead of with the first student's visit."""
    import time

    from deploy.replicas import Replicas

    with Replicas(1, env={"RESNET_VIZ_OFFLINE": "1", "HOME": str(tmp_path)}, folder=tmp_path / "replicas") as replicas:
        maps = Path(f"/proc/{replicas.replicas[0].proc.pid}/maps")
        deadline = time.monotonic() + 120
        while "libtorch" not in maps.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "libtorch" in maps.read_text(), "the replica's warm-up did not start before a student came"
