"""deploy/k8s/: the manifests validate against Kubernetes' schemas (kubernetes-validate, strict), and they agree
with the image (port, user, its HOME), with the drain (grace period) and with each other (labels, names)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with kubernetes-validate (requirements/dev.txt)")

from deploy.replicas import STOP_MARGIN_S, WARM_UP_ENV, WARM_UP_PATH  # noqa: E402
from resnet_viz.work import DEFAULT_DRAIN_S  # noqa: E402
from tests.browser import ROOT  # noqa: E402
from tests.deploy.test_dockerfile import one, port  # noqa: E402

K8S = ROOT / "deploy" / "k8s"
VALIDATE = shutil.which("kubernetes-validate") or str(Path(sys.executable).parent / "kubernetes-validate")
PRESTOP_S = 5


def manifest(name: str) -> dict:
    return yaml.safe_load((K8S / f"{name}.yaml").read_text(encoding="utf-8"))


def container() -> dict:
    (c,) = manifest("deployment")["spec"]["template"]["spec"]["containers"]
    return c


def env() -> dict[str, dict]:
    return {e["name"]: e for e in container()["env"]}


@pytest.mark.skipif(not Path(VALIDATE).is_file(), reason="pip install kubernetes-validate")
def test_the_manifests_validate(tmp_path):
    files = sorted(K8S.glob("*.yaml"))
    assert [f.stem for f in files] == ["deployment", "hpa", "ingress", "service"]
    check = subprocess.run([VALIDATE, "--strict", "--quiet", *map(str, files)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    typo = tmp_path / "deployment.yaml"  # and a slip is caught
    typo.write_text((K8S / "deployment.yaml").read_text().replace("terminationGracePeriodSeconds",
                                                                  "terminationGracePeriod"))
    assert subprocess.run([VALIDATE, "--strict", "--quiet", str(typo)], capture_output=True).returncode != 0


def test_probes_ask_the_image_s_health_check_on_its_port():
    c = container()
    assert c["ports"] == [{"name": "http", "containerPort": port()}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/_stcore/health", "port": "http"}, probe
    assert "/_stcore/health" in one("HEALTHCHECK")


def test_the_startup_probe_runs_the_script_once_so_the_warm_up_starts_before_a_student():
    """As deploy/replicas.py does: Streamlit's script health check runs app.py, which starts the pod's warm-up."""
    assert container()["startupProbe"]["httpGet"] == {"path": WARM_UP_PATH, "port": "http"}
    assert {name: env()[name]["value"] for name in WARM_UP_ENV} == WARM_UP_ENV


def test_a_busy_or_draining_pod_is_not_restarted():
    """The health check answers 503 for the whole drain: liveness must outlast it."""
    live = container()["livenessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] > int(env()["RESNET_VIZ_DRAIN_S"]["value"])


def test_the_grace_period_covers_the_pause_the_drain_and_streamlit_s_own_stop():
    spec = manifest("deployment")["spec"]["template"]["spec"]
    assert container()["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(PRESTOP_S)]
    drain = int(env()["RESNET_VIZ_DRAIN_S"]["value"])
    assert drain == DEFAULT_DRAIN_S
    assert spec["terminationGracePeriodSeconds"] == PRESTOP_S + drain + STOP_MARGIN_S


def test_pods_run_as_the_image_s_user_and_write_only_their_home_and_tmp():
    spec = manifest("deployment")["spec"]["template"]["spec"]
    uid = int(one("USER"))
    assert spec["securityContext"]["runAsUser"] == uid and spec["securityContext"]["runAsNonRoot"]
    user = one("RUN").split("--user-group ")[1].split()[0]
    c = container()
    assert c["securityContext"]["readOnlyRootFilesystem"] and c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {m["mountPath"] for m in c["volumeMounts"]} == {f"/home/{user}", "/tmp"}


def test_replicas_share_one_cookie_secret_and_run_one_thread():
    ref = env()["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "resnet-viz", "key": "cookie-secret"}
    assert env()["RESNET_VIZ_THREADS"]["value"] == "1" and container()["resources"]["requests"]["cpu"] == "1"


def test_the_ingress_pins_a_browser_to_a_pod_and_keeps_its_websocket_open():
    notes = manifest("ingress")["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "affinity"] == "cookie" and notes[prefix + "affinity-mode"] == "persistent"
    assert notes[prefix + "session-cookie-change-on-failure"] == "true"
    assert int(notes[prefix + "proxy-read-timeout"]) >= 3600 and int(notes[prefix + "proxy-send-timeout"]) >= 3600
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    upload_mb = int(config.split("maxUploadSize = ")[1].split()[0])
    assert notes[prefix + "proxy-body-size"] == f"{upload_mb}m"


def test_service_ingress_and_autoscaler_point_at_the_deployment():
    deployment, service = manifest("deployment"), manifest("service")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels == service["spec"]["selector"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    backend = manifest("ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": service["metadata"]["name"], "port": {"name": "http"}}
    target = manifest("hpa")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    metric = manifest("hpa")["spec"]["metrics"][0]["resource"]
    assert metric["name"] == "cpu" and 0 < metric["target"]["averageUtilization"] <= 100
