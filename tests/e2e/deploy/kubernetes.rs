//! The Kubernetes manifests: the core resources against the Kubernetes schemas, and what
//! no schema checks — the ServiceMonitor (a CRD) against the Service, the Deployment's
//! probes, ports, labels and Secret keys against each other and the config.

use super::{repo, run, text, variables, venv_tool, yaml};
use serde_yaml::Value;
use std::path::PathBuf;
use std::process::Command;

/// The Kubernetes version the manifests are validated against.
const KUBERNETES: &str = "1.33.0";

const MANIFESTS: [&str; 7] = [
    "configmap.yaml",
    "secret.example.yaml",
    "deployment.yaml",
    "service.yaml",
    "pdb.yaml",
    "networkpolicy.yaml",
    "servicemonitor.yaml",
];

#[test]
fn the_kubernetes_resources_match_the_kubernetes_schemas() {
    let dir = repo("deploy/kubernetes");
    // The ServiceMonitor is a CRD: no Kubernetes schema (checked below instead).
    let core: Vec<PathBuf> = MANIFESTS
        .iter()
        .filter(|m| **m != "servicemonitor.yaml")
        .map(|m| dir.join(m))
        .collect();

    let out = run(Command::new(venv_tool("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", KUBERNETES])
        .args(&core));

    let report = text(&out);
    assert!(out.status.success(), "{report}");
    for manifest in &core {
        let name = manifest.file_name().unwrap().to_string_lossy();
        assert!(
            report.contains(&format!("{} passed", manifest.display())),
            "{name}: {report}"
        );
    }
    let kustomization = yaml("deploy/kubernetes/kustomization.yaml");
    let listed: Vec<&str> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    for m in MANIFESTS.iter().filter(|m| !m.starts_with("secret")) {
        assert!(listed.contains(m), "{m} is not in kustomization.yaml");
    }
    assert!(
        !listed.iter().any(|m| m.starts_with("secret")),
        "placeholder secrets must not be applied"
    );
}

fn labels(value: &Value) -> Vec<(String, String)> {
    value
        .as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.as_str().unwrap().to_owned(),
                        v.as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn port_names(ports: &Value) -> Vec<String> {
    ports
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_service_monitor_scrapes_the_services_metrics_port() {
    let monitor = yaml("deploy/kubernetes/servicemonitor.yaml");
    let service = yaml("deploy/kubernetes/service.yaml");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["kind"], "ServiceMonitor");
    let selector = labels(&monitor["spec"]["selector"]["matchLabels"]);
    let service_labels = labels(&service["metadata"]["labels"]);
    assert!(!selector.is_empty());
    for l in &selector {
        assert!(
            service_labels.contains(l),
            "the ServiceMonitor selects {l:?}, the Service lacks it"
        );
    }
    let endpoints = monitor["spec"]["endpoints"].as_sequence().unwrap();
    assert!(!endpoints.is_empty());
    let service_ports = port_names(&service["spec"]["ports"]);
    for e in endpoints {
        let port = e["port"]
            .as_str()
            .expect("endpoints[].port names a Service port");
        assert!(
            service_ports.iter().any(|p| p == port),
            "no Service port {port}"
        );
        assert_eq!(e["path"], "/metrics");
        assert!(
            e["interval"].as_str().is_some_and(|i| i.ends_with('s')),
            "{e:?}"
        );
    }
    // The metrics port is the config's metrics_listen port.
    let metrics = service["spec"]["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "metrics")
        .unwrap();
    let config = configmap_config();
    let port = metrics["port"].as_u64().unwrap();
    assert!(
        config.contains(&format!("metrics_listen: \"0.0.0.0:{port}\"")),
        "{config}"
    );
}

/// The config file the ConfigMap carries.
pub(super) fn configmap_config() -> String {
    let map = yaml("deploy/kubernetes/configmap.yaml");
    map["data"]["sever.yaml"].as_str().unwrap().to_owned()
}

#[test]
fn the_deployment_probes_ports_config_and_secrets_fit_together() {
    let deployment = yaml("deploy/kubernetes/deployment.yaml");
    let service = yaml("deploy/kubernetes/service.yaml");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    let container_ports = port_names(&container["ports"]);
    for probe in ["readinessProbe", "livenessProbe"] {
        let port = container[probe]["httpGet"]["port"].as_str().unwrap();
        assert!(
            container_ports.iter().any(|p| p == port),
            "{probe} port {port}"
        );
    }
    for p in service["spec"]["ports"].as_sequence().unwrap() {
        let target = p["targetPort"].as_str().unwrap();
        assert!(
            container_ports.iter().any(|c| c == target),
            "Service targetPort {target}"
        );
    }
    let pod_labels = labels(&pod["metadata"]["labels"]);
    for l in labels(&service["spec"]["selector"]) {
        assert!(
            pod_labels.contains(&l),
            "the Service selects {l:?}, the pods lack it"
        );
    }
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);

    // Config from the ConfigMap, secrets from the Secret as environment variables.
    let volumes = pod["spec"]["volumes"].as_sequence().unwrap();
    assert!(volumes
        .iter()
        .any(|v| v["configMap"]["name"] == "sever-config"));
    let secret = yaml("deploy/kubernetes/secret.example.yaml");
    let secret_name = secret["metadata"]["name"].as_str().unwrap();
    assert_eq!(container["envFrom"][0]["secretRef"]["name"], secret_name);
    let keys: Vec<String> = labels(&secret["stringData"])
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let config = configmap_config();
    for var in variables(&config) {
        assert!(
            keys.contains(&var),
            "the config reads {var}, the Secret has no such key"
        );
    }
    // SIGTERM's drain fits in the pod's grace period.
    let grace = pod["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(
        grace * 1000 > 10_000 + 5_000,
        "terminationGracePeriodSeconds {grace}"
    );
}
