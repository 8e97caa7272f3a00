"""The reference server's deploy artefacts say what the production-store issue asks: the seed's
autoscaling, probes on the health routes, a non-root read-only container, zone spread, a
disruption budget, network policy both ways, and alerts whose runbook sections exist. (Schema
validity is `kubernetes-validate --strict` and `promtool` in .ci/test-all.sh; this checks the
values.)"""

import pathlib
import re

import pytest

yaml = pytest.importorskip("yaml")

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "examples" / "server" / "deploy"


def manifests():
    out = {}
    for f in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            out[doc["kind"]] = doc
    return out


def test_the_seeds_autoscaling():
    hpa = manifests()["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (5, 50)
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["metrics"]}
    assert targets == {"cpu": 60, "memory": 80}
    down = hpa["behavior"]["scaleDown"]
    assert down["stabilizationWindowSeconds"] == 300
    assert down["policies"] == [{"type": "Percent", "value": 10, "periodSeconds": 60}]
    assert hpa["scaleTargetRef"]["name"] == manifests()["Deployment"]["metadata"]["name"]


def test_the_deployment_probes_the_health_routes_and_runs_locked_down():
    m = manifests()
    pod = m["Deployment"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"]["cpu"] and c["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    keys = {s["topologyKey"] for s in pod["topologySpreadConstraints"]}
    assert "topology.kubernetes.io/zone" in keys
    env = {e["name"]: e for e in c["env"]}
    assert env["LANDOPP_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert "LANDOPP_REPLICA" in env
    # the port the container declares is the one server.toml listens on and the Service targets
    toml = m["ConfigMap"]["data"]["server.toml"]
    assert 'listen = "0.0.0.0:8080"' in toml
    assert c["ports"][0]["containerPort"] == 8080
    assert m["Service"]["spec"]["ports"][0]["targetPort"] == c["ports"][0]["name"]
    # SIGTERM drains within the grace period (the server finishes requests in flight)
    assert pod["terminationGracePeriodSeconds"] >= 30


def test_disruption_budget_network_policy_ingress():
    m = manifests()
    assert m["PodDisruptionBudget"]["spec"]["minAvailable"]
    np = m["NetworkPolicy"]["spec"]
    assert set(np["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = {p["port"] for rule in np["egress"] for p in rule["ports"]}
    assert {5432, 6379, 53} <= egress_ports
    backend = m["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == m["Service"]["metadata"]["name"]
    # the Secret is a template: no real value committed
    for v in m["Secret"]["stringData"].values():
        assert "CHANGE-ME" in v


def test_the_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    d = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", d, re.M)) == 2
    user = re.search(r"^USER (\S+)", d, re.M)
    assert user and not user.group(1).startswith("0") and user.group(1) != "root"
    assert re.search(r'^HEALTHCHECK .*\n.*"landopp-server", "healthcheck"', d, re.M)
    assert "EXPOSE 8080" in d


def test_every_alert_has_a_runbook_section():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    runbook = (DEPLOY / "RUNBOOK.md").read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", runbook, re.M)}
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert {a["alert"] for a in alerts} >= {
        "LandoppHighErrorRate",
        "LandoppSearchSlow",
        "LandoppFeatureDrift",
        "LandoppReplicasNotReady",
    }
    for a in alerts:
        link = a["annotations"]["runbook"]
        assert link.split("#")[1] in anchors, link
