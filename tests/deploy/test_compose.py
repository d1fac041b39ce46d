"""deploy/compose.yaml and deploy/nginx/compose.conf: three replicas of the image behind nginx on one machine (no
Docker here to run it: read as text). The nginx site is the template's rendering for the replicas' addresses, and the
replicas get the drain's grace period and one shared cookie secret."""

from __future__ import annotations

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with kubernetes-validate (requirements/dev.txt)")

from deploy.replicas import STOP_MARGIN_S, compose_site  # noqa: E402
from resnet_viz.work import DEFAULT_DRAIN_S  # noqa: E402
from tests.browser import ROOT  # noqa: E402
from tests.deploy.test_dockerfile import port  # noqa: E402

DEPLOY = ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def replicas() -> dict[str, dict]:
    return {name: s for name, s in compose()["services"].items() if name.startswith("app-")}


def test_nginx_s_site_is_the_template_for_the_replicas_addresses():
    addresses = [s["networks"]["resnet-viz"]["ipv4_address"] + f":{port()}" for s in replicas().values()]
    listen = int(compose()["services"]["nginx"]["ports"][0].split(":")[1])
    assert (DEPLOY / "nginx" / "compose.conf").read_text(encoding="utf-8") == compose_site(addresses, listen)


def test_the_replicas_are_the_image_with_one_secret_and_the_drain_s_grace_period():
    assert len(replicas()) == 3
    for s in replicas().values():
        assert s["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert s["stop_grace_period"] == f"{DEFAULT_DRAIN_S + STOP_MARGIN_S}s"
        assert s["environment"]["STREAMLIT_SERVER_COOKIE_SECRET"].startswith("${STREAMLIT_SERVER_COOKIE_SECRET:?")
        assert s["environment"]["RESNET_VIZ_THREADS"] == "1"
    nginx = compose()["services"]["nginx"]
    assert nginx["volumes"] == ["./nginx/compose.conf:/etc/nginx/conf.d/default.conf:ro"]
    assert {name: d["condition"] for name, d in nginx["depends_on"].items()} == dict.fromkeys(replicas(),
                                                                                             "service_healthy")
