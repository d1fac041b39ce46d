"""Several replicas of the app on one machine behind nginx, each browser pinned to one: no Docker needed.

    python deploy/replicas.py [--replicas 3] [--port 8080] [--address 127.0.0.1] [--first-port 8501]

Starts ``--replicas`` copies of ``streamlit run app.py`` on consecutive loopback ports, waits until each answers its
health check, runs each one's script once (``WARM_UP_PATH``: the app's warm-up starts then, before a student arrives,
instead of with the first student's visit), then runs nginx (Debian's ``/usr/sbin/nginx``, or ``$NGINX``) in the
foreground with a config made from ``deploy/nginx/resnet-viz.conf.template`` in a temporary folder (its access log names
the replica that served each request). Students open ``http://ADDRESS:PORT``. Ctrl+C or SIGTERM stops the replicas first
(each drains: its sessions keep their server, through nginx, until their work is done; see ui/work.py), then nginx. The
replicas share one ``server.cookieSecret`` (Streamlit asks for that behind a load balancer); torch uses one thread in
each (``RESNET_VIZ_THREADS``), so run about one replica per core. benchmarks/scale_out.py and tests/deploy/ use
``Replicas`` from here.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx" / "resnet-viz.conf.template"
NGINX = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
COOKIE = "resnet_viz_replica"
STOP_MARGIN_S = 15  # after a replica's drain: Streamlit closes its sessions and the process ends
# Streamlit's script health check (``server.scriptHealthCheckEnabled``, off by default) runs app.py once in a session
# of its own: the run starts the replica's warm-up (ui/warmup.py), so its first student finds torch imported.
WARM_UP_PATH = "/_stcore/script-health-check"
WARM_UP_ENV = {"STREAMLIT_SERVER_SCRIPT_HEALTH_CHECK_ENABLED": "true"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_site(addresses: list[str], listen: str, access_log: str, note: str = "") -> str:
    """The nginx site for replicas at ``addresses`` (host:port, numbered from 1 in the cookie); ``note`` comes first."""
    numbered = list(enumerate(addresses, start=1))
    blocks = {
        "GROUP_SERVERS": "\n".join(f"    server {a};" for _, a in numbered),
        "PINNED_UPSTREAMS": "\n".join(f"upstream resnet_viz_{k} {{\n    server {a};\n}}" for k, a in numbered),
        "PINNED_BY_COOKIE": "\n".join(f"    {k} resnet_viz_{k};" for k, _ in numbered),
        "REPLICA_BY_ADDRESS": "\n".join(f'    "~(^| ){re.escape(a)}$" {k};' for k, a in numbered),
        "LISTEN": listen,
        "ACCESS_LOG": access_log,
    }
    text = note + TEMPLATE.read_text(encoding="utf-8")
    for name, value in blocks.items():
        text = text.replace(f"@{name}@", value)
    if left := re.findall(r"@[A-Z_]+@", text):
        raise ValueError(f"the template has names nobody fills in: {left}")
    return text


def main_config(folder: Path, site: Path) -> str:
    """nginx.conf for a non-root nginx in the foreground, everything it writes in ``folder``."""
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                            "scgi"))
    return (f"daemon off;\nworker_processes 1;\npid {folder / 'nginx.pid'};\n"
            f"error_log {folder / 'error.log'} notice;\nevents {{\n    worker_connections 4096;\n}}\n"
            f"http {{\n{temp}\n    include {site};\n}}\n")


def start_nginx(folder: Path, addresses: list[str], listen: str, timeout: float = 30) -> subprocess.Popen:
    """nginx in the foreground in front of ``addresses``, listening on ``listen`` (host:port), its config and logs
    in ``folder`` (access.log, error.log); returns once it answers."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)  # nginx started as root runs its workers as an unprivileged user
    site = folder / "resnet-viz.conf"
    site.write_text(render_site(addresses, listen, str(folder / "access.log")), encoding="utf-8")
    conf = folder / "nginx.conf"
    conf.write_text(main_config(folder, site), encoding="utf-8")
    proc = subprocess.Popen([NGINX, "-p", str(folder), "-e", str(folder / "error.log"), "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    host, _, port = listen.rpartition(":")
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"nginx did not start: {(folder / 'error.log').read_text()[-2000:]}") from None
            time.sleep(0.05)


def replica_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The README's `streamlit run app.py`, on one port."""
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
            address]


def healthy(url: str, path: str = "/_stcore/health", timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=timeout) as answer:
            return answer.status == 200
    except OSError:
        return False


@dataclass
class Replica:
    port: int
    proc: subprocess.Popen

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class Replicas:
    """``count`` replicas and nginx in front of them on ``port`` (a free one by default), in a context manager.

    ``env`` is added to each replica's environment; ``folder`` keeps the config and the logs (a temporary folder by
    default, removed afterwards).
    """

    def __init__(self, count: int = 3, *, port: int | None = None, listen: str = "127.0.0.1",
                 first_port: int | None = None, env: dict[str, str] | None = None, folder: Path | None = None,
                 timeout: float = 180) -> None:
        if count < 1:
            raise ValueError(f"at least one replica, got {count}")
        self.count, self.listen, self.timeout = count, listen, timeout
        self.port = port or free_port()
        self.ports = [first_port + i for i in range(count)] if first_port else [free_port() for _ in range(count)]
        self.env = {"RESNET_VIZ_THREADS": "1", "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32),
                    **WARM_UP_ENV, **(env or {})}
        self._tmp = None if folder else tempfile.TemporaryDirectory(prefix="resnet-viz-replicas-")
        self.folder = folder or Path(self._tmp.name if self._tmp else ".")
        self.replicas: list[Replica] = []
        self.nginx: subprocess.Popen | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def url(self) -> str:
        return f"http://{self.listen}:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.folder / "access.log"

    def __enter__(self) -> Replicas:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        for k, port in enumerate(self.ports, start=1):
            log = open(self.folder / f"replica-{k}.log", "wb")
            self._logs.append(log)
            # own sessions: a Ctrl+C in the terminal reaches this script alone, which stops them in order
            proc = subprocess.Popen(replica_command(port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            self.replicas.append(Replica(port, proc))
        deadline = time.monotonic() + self.timeout
        for k, r in enumerate(self.replicas, start=1):
            while not healthy(f"http://{r.address}"):
                if r.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"replica {k} did not start (see {self.folder / f'replica-{k}.log'})")
                time.sleep(0.3)
            if not healthy(f"http://{r.address}", WARM_UP_PATH, timeout=60):
                log = self.folder / f"replica-{k}.log"
                raise RuntimeError(f"replica {k}'s script failed its first run (see {log})")
        self.nginx = start_nginx(self.folder, [r.address for r in self.replicas], f"{self.listen}:{self.port}")

    def stop_replica(self, index: int, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` to replica ``index`` (from 0): SIGTERM drains it, SIGKILL is a crash."""
        self.replicas[index].proc.send_signal(sig)

    def stop(self) -> None:
        """Stop the replicas (they drain meanwhile, nginx still in front of them), then nginx."""
        from resnet_viz.work import drain_seconds

        live = [r.proc for r in self.replicas if r.proc.poll() is None]
        for proc in live:
            proc.terminate()
        deadline = time.monotonic() + drain_seconds() + STOP_MARGIN_S
        for proc in live:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            self.nginx.wait(30)
        for log in self._logs:
            log.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--replicas", type=int, default=3, help="how many copies of the app (default 3: one per core)")
    p.add_argument("--port", type=int, default=8080, help="the port students open (default 8080)")
    p.add_argument("--address", default="127.0.0.1",
                   help="the address nginx listens on (default 127.0.0.1; 0.0.0.0 for the whole network)")
    p.add_argument("--first-port", type=int, default=8501, help="the first replica's port (default 8501)")
    p.add_argument("--folder", type=Path, help="keep the nginx config and the logs here (default: a temporary one)")
    p.add_argument("--print-site", nargs="+", metavar="HOST:PORT",
                   help="only print the nginx site for replicas at these addresses, listening on --port (how "
                        "deploy/nginx/compose.conf is made)")
    return p.parse_args(argv)


COMPOSE_ACCESS_LOG = "/var/log/nginx/access.log"  # the nginx image sends it to the container's output


def compose_site(addresses: list[str], port: int) -> str:
    command = f"python deploy/replicas.py --port {port} --print-site {' '.join(addresses)} > deploy/nginx/compose.conf"
    return render_site(addresses, str(port), COMPOSE_ACCESS_LOG, note=f"# Made by `{command}`: edit the template.\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.print_site:
        print(compose_site(args.print_site, args.port), end="")
        return 0
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with Replicas(args.replicas, port=args.port, listen=args.address, first_port=args.first_port,
                  folder=args.folder) as cluster:
        print(f"{cluster.count} replicas on ports {', '.join(map(str, cluster.ports))} behind nginx: open "
              f"{cluster.url} (logs in {cluster.folder}); Ctrl+C stops them", flush=True)
        ended: set[int] = set()
        while not stopping:
            for k, r in enumerate(cluster.replicas, start=1):
                if r.proc.poll() is not None and k not in ended:
                    ended.add(k)
                    print(f"replica {k} (port {r.port}) ended with {r.proc.returncode}; its students move to the "
                          "others", flush=True)
            time.sleep(1)
        print("stopping: the replicas drain, then nginx stops", flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # `python deploy/replicas.py` from anywhere: resnet_viz is importable
    sys.exit(main())
