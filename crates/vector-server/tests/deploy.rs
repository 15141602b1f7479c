//! The deployment files agree with the binary: the paths their probes hit are routes that
//! answer 200, the ports agree with each other and the default port, every environment
//! variable they set is one `vtier serve --help` lists (or the backend configuration reads),
//! every key of the Secret is consumed through such a variable, and the pod runs hardened with
//! resources and a disruption budget. (No Docker engine or cluster is needed: the files are
//! read as text; `cargo xtask ops` validates their schema with kubernetes-validate.)

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{CommandFactory as _, Parser};
use vector_server::{AppConfig, AppState, ServeArgs, router};
use vector_tier::memory::{MemoryBackend, MemoryConfig};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn repo_file(path: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The environment variables `vtier serve --help` lists (`[env: NAME=...]`).
fn help_env() -> Vec<String> {
    let help = Cli::command().render_long_help().to_string();
    let names: Vec<String> = help
        .match_indices("[env: ")
        .filter_map(|(i, _)| help[i + 6..].split(['=', ']']).next().map(str::to_owned))
        .collect();
    assert!(names.len() >= 20, "{help}");
    names
}

/// Environment variables `vtier serve` reads: its flags' and the backend config's.
fn known_env() -> Vec<String> {
    let mut names = help_env();
    names.extend(
        [
            "REDIS_URL",
            "WEAVIATE_URL",
            "WEAVIATE_API_KEY",
            "PG_CONNECTION_STRING",
            "MEMORY_MAX_VECTORS",
            "MEMORY_MAX_BYTES",
            "RUST_LOG",
        ]
        .map(String::from),
    );
    names
}

async fn assert_route_ok(path: &str) {
    let app = router(AppState::new(
        Arc::new(MemoryBackend::new(MemoryConfig::default())),
        AppConfig::default(),
    ));
    let r = common::get(&app, path).await;
    assert_eq!(r.status, 200, "{path}: {r:?}");
}

/// `KEY: value` lines of a YAML block that starts after `header` (indented deeper than it).
fn yaml_keys(text: &str, header: &str) -> Vec<String> {
    let mut lines = text.lines().skip_while(|l| l.trim() != header);
    let Some(head) = lines.next() else {
        panic!("no {header}")
    };
    let indent = head.len() - head.trim_start().len();
    lines
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.trim().to_owned()))
        .filter(|k| !k.starts_with('#') && !k.is_empty())
        .collect()
}

#[tokio::test]
async fn dockerfile_matches_the_binary() {
    let docker = repo_file("deploy/Dockerfile");
    assert!(docker.contains("EXPOSE 8000"));
    assert_eq!(ServeArgs::default().port, 8000);
    assert!(
        docker.contains(r#"CMD ["serve"]"#)
            && docker.contains(r#"ENTRYPOINT ["/usr/local/bin/vtier"]"#)
    );
    assert!(docker.contains("-p vtier --bin vtier"));
    assert!(docker.contains("USER 10001"), "runs as non-root");
    let health = docker.lines().find(|l| l.contains("curl -fsS")).unwrap();
    assert!(health.contains("/health"));
    assert_route_ok("/health").await;
    let env_line = docker
        .lines()
        .skip_while(|l| !l.starts_with("ENV "))
        .take_while(|l| l.starts_with("ENV ") || l.starts_with("    "))
        .collect::<Vec<_>>()
        .join(" ");
    let known = known_env();
    let set: Vec<&str> = env_line
        .trim_start_matches("ENV ")
        .split_whitespace()
        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
        .collect();
    assert!(
        set.contains(&"PORT") && set.contains(&"BACKEND_TYPE"),
        "{set:?}"
    );
    for name in set {
        assert!(
            known.iter().any(|k| k == name),
            "Dockerfile sets {name}, which vtier serve does not read"
        );
    }
    // The serve subcommand parses with no arguments (the image's CMD).
    let cli = Cli::try_parse_from(["vtier"]).unwrap();
    assert_eq!(cli.serve.port, 8000);
}

#[tokio::test]
async fn kubernetes_manifests_match_the_router() {
    let deployment = repo_file("deploy/k8s/deployment.yaml");
    assert!(deployment.contains("replicas: 3"));
    assert!(deployment.contains("containerPort: 8000"));
    let probe_path = |probe: &str| {
        let block = deployment
            .split(probe)
            .nth(1)
            .unwrap_or_else(|| panic!("no {probe}"));
        block
            .lines()
            .find_map(|l| l.trim().strip_prefix("path: "))
            .unwrap()
            .to_owned()
    };
    assert_eq!(probe_path("livenessProbe:"), "/health");
    assert_eq!(probe_path("readinessProbe:"), "/ready");
    assert_route_ok("/health").await;
    assert_route_ok("/ready").await;
    assert_route_ok("/metrics").await;
    let configmap = repo_file("deploy/k8s/configmap.yaml");
    let known = known_env();
    let keys = yaml_keys(&configmap, "data:");
    assert!(
        keys.contains(&"BACKEND_TYPE".to_owned()) && keys.contains(&"REDIS_URL".to_owned()),
        "{keys:?}"
    );
    for key in keys
        .iter()
        .chain(std::iter::once(&"VTIER_API_TOKENS_FILE".to_owned()))
    {
        assert!(
            known.contains(key),
            "ConfigMap sets {key}, which vtier serve does not read"
        );
    }
    let backend = configmap
        .lines()
        .find_map(|l| l.trim().strip_prefix("BACKEND_TYPE: "))
        .unwrap();
    assert!(
        backend
            .trim_matches('"')
            .parse::<vector_tier::BackendKind>()
            .is_ok()
    );
    // The example Secret holds no usable token (before: `example:replace-me-...`, a token
    // anyone reading the repository could use), and applied as it is the service refuses to
    // start rather than serve an open API.
    let secret = repo_file("deploy/k8s/secret.yaml");
    let tokens: String = secret
        .split("tokens: |")
        .nth(1)
        .unwrap()
        .lines()
        .map(|l| format!("{}\n", l.trim()))
        .collect();
    assert_eq!(vector_server::parse_tokens(&tokens).unwrap().len(), 0);
    let file = std::env::temp_dir().join(format!("vtier-secret-{}", std::process::id()));
    std::fs::write(&file, &tokens).unwrap();
    let mut args = ServeArgs::default();
    args.api_tokens_file = Some(file.clone());
    let e = AppConfig::from_args(&args).unwrap_err().to_string();
    let _ = std::fs::remove_file(file);
    assert!(e.contains("refusing to start"), "{e}");
}

#[test]
fn compose_stack_sets_only_known_variables() {
    let stack = repo_file("compose/stack.yml");
    let service = stack
        .split("  vtier:")
        .nth(1)
        .unwrap()
        .split("\n  redis:")
        .next()
        .unwrap();
    let known = known_env();
    let keys = yaml_keys(service, "environment:");
    assert!(keys.len() >= 5, "{keys:?}");
    // An empty VTIER_API_TOKENS refuses to start, so the stack must not default it to "".
    assert!(!service.contains("VTIER_API_TOKENS:-}"), "{service}");
    for key in keys {
        assert!(
            known.contains(&key),
            "compose sets {key}, which vtier serve does not read"
        );
    }
    let prometheus = repo_file("deploy/prometheus/prometheus.yml");
    assert!(prometheus.contains("metrics_path: /metrics") && prometheus.contains("vtier:8000"));
    assert!(prometheus.contains("- alerts.yml"));
    assert!(stack.contains("../deploy/prometheus:/etc/prometheus:ro"));
    assert!(stack.contains("../deploy/grafana:/var/lib/grafana/dashboards:ro"));
}

/// Lines of the YAML block under the first line equal to `header` (trimmed): indented deeper,
/// or list items (`- `) at the same indentation.
fn block<'a>(text: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = text.lines().skip_while(|l| l.trim() != header);
    let Some(head) = lines.next() else {
        panic!("no {header}")
    };
    let indent = head.len() - head.trim_start().len();
    lines
        .take_while(|l| {
            let i = l.len() - l.trim_start().len();
            l.trim().is_empty() || i > indent || (i == indent && l.trim_start().starts_with("- "))
        })
        .collect()
}

/// The value of the first `key: value` among `lines` (`- ` prefixes and quotes removed).
fn scalar(lines: &[&str], key: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        let l = l.trim().trim_start_matches("- ");
        let v = l.strip_prefix(key)?.strip_prefix(':')?;
        Some(v.trim().trim_matches('"').to_owned())
    })
}

/// Every `key: value` of the `- name:`-started list items under `header`, as (name, value).
fn env_entries(lines: &[&str]) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for l in lines {
        let t = l.trim();
        if let Some(name) = t.strip_prefix("- name: ") {
            out.push((name.trim().to_owned(), None));
        } else if let (Some(v), Some(last)) = (t.strip_prefix("value: "), out.last_mut()) {
            last.1 = Some(v.trim().trim_matches('"').to_owned());
        }
    }
    out
}

#[test]
fn manifests_use_only_what_serve_help_accepts() {
    let help = help_env();
    let known = known_env();
    let deployment = repo_file("deploy/k8s/deployment.yaml");
    let configmap = repo_file("deploy/k8s/configmap.yaml");
    let service = repo_file("deploy/k8s/service.yaml");
    let secret = repo_file("deploy/k8s/secret.yaml");
    // Ports: container, ConfigMap PORT, probes and Service target agree with the default.
    let default_port = ServeArgs::default().port.to_string();
    let ports = block(&deployment, "ports:");
    assert_eq!(scalar(&ports, "containerPort"), Some(default_port.clone()));
    let port_name = scalar(&ports, "name").expect("a named container port");
    assert_eq!(
        scalar(&block(&configmap, "data:"), "PORT"),
        Some(default_port.clone())
    );
    for probe in ["livenessProbe:", "readinessProbe:"] {
        let p = scalar(&block(&deployment, probe), "port").unwrap();
        assert!(p == default_port || p == port_name, "{probe} port {p}");
    }
    let target = scalar(&block(&service, "ports:"), "targetPort").unwrap();
    assert!(
        target == default_port || target == port_name,
        "Service targetPort {target}"
    );
    // Every variable the Deployment and the ConfigMap set is one vtier serve reads.
    let env = env_entries(&block(&deployment, "env:"));
    for (name, _) in &env {
        assert!(
            known.contains(name),
            "the Deployment sets {name}, which `vtier serve --help` does not list"
        );
    }
    for key in yaml_keys(&configmap, "data:") {
        assert!(
            known.contains(&key),
            "the ConfigMap sets {key}, which vtier serve does not read"
        );
    }
    // The Secret's keys: each is mounted as a file that a *_FILE variable of `--help` names,
    // or read into a listed variable with secretKeyRef; and nothing refers to a missing key.
    let secret_keys: Vec<String> = ["stringData:", "data:"]
        .iter()
        .filter(|h| secret.lines().any(|l| l.trim() == **h))
        .flat_map(|h| {
            block(&secret, h)
                .iter()
                .filter(|l| l.len() - l.trim_start().len() == 2 && l.contains(':'))
                .map(|l| l.trim().split(':').next().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(!secret_keys.is_empty(), "the Secret has no keys");
    let mount = scalar(&block(&deployment, "volumeMounts:"), "mountPath").unwrap_or_default();
    let items = block(&deployment, "items:");
    let mut item_paths = Vec::new();
    for (i, l) in items.iter().enumerate() {
        if let Some(key) = l.trim().strip_prefix("- key: ") {
            assert!(
                secret_keys.iter().any(|k| k == key.trim()),
                "the volume mounts Secret key {key}, which the Secret lacks"
            );
            let path = scalar(&items[i..], "path").unwrap();
            item_paths.push((key.trim().to_owned(), format!("{mount}/{path}")));
        }
    }
    let secret_refs: Vec<&str> = deployment
        .match_indices("secretKeyRef:")
        .filter_map(|(i, _)| {
            deployment[i..]
                .lines()
                .find_map(|l| l.trim().strip_prefix("key: "))
        })
        .collect();
    for key in &secret_keys {
        let via_file = item_paths.iter().any(|(k, path)| {
            k == key
                && env.iter().any(|(name, value)| {
                    name.ends_with("_FILE")
                        && help.contains(name)
                        && value.as_deref() == Some(path.as_str())
                })
        });
        let via_env = secret_refs.contains(&key.as_str());
        assert!(
            via_file || via_env,
            "Secret key {key} is not consumed through a variable of `vtier serve --help`"
        );
    }
    for key in secret_refs {
        assert!(
            secret_keys.iter().any(|k| k == key),
            "secretKeyRef to missing key {key}"
        );
    }
}

#[test]
fn pods_are_hardened_sized_and_budgeted() {
    let deployment = repo_file("deploy/k8s/deployment.yaml");
    let docker = repo_file("deploy/Dockerfile");
    for (key, want) in [
        ("runAsNonRoot", "true"),
        ("runAsUser", "10001"),
        ("readOnlyRootFilesystem", "true"),
        ("allowPrivilegeEscalation", "false"),
    ] {
        assert_eq!(
            scalar(&deployment.lines().collect::<Vec<_>>(), key).as_deref(),
            Some(want),
            "{key}"
        );
    }
    assert!(
        docker.contains("USER 10001:10001"),
        "the image runs as the same user"
    );
    let resources = block(&deployment, "resources:");
    let resources = resources.join("\n");
    let requests = block(&resources, "requests:");
    let limits = block(&resources, "limits:");
    let mib = |v: &str| -> u64 {
        v.strip_suffix("Mi")
            .map(|n| n.parse().unwrap())
            .or_else(|| {
                v.strip_suffix("Gi")
                    .map(|n| n.parse::<u64>().unwrap() * 1024)
            })
            .unwrap()
    };
    let req = mib(&scalar(&requests, "memory").expect("a memory request"));
    let lim = mib(&scalar(&limits, "memory").expect("a memory limit"));
    assert!(scalar(&requests, "cpu").is_some(), "a cpu request");
    assert!(
        req <= lim && req >= 32,
        "memory request {req}Mi, limit {lim}Mi"
    );
    let pdb = repo_file("deploy/k8s/pdb.yaml");
    assert!(pdb.contains("kind: PodDisruptionBudget"));
    assert_eq!(
        scalar(&block(&pdb, "matchLabels:"), "app").as_deref(),
        Some("vector-backend")
    );
    let replicas: u32 = scalar(&deployment.lines().collect::<Vec<_>>(), "replicas")
        .unwrap()
        .parse()
        .unwrap();
    let unavailable: u32 = scalar(&pdb.lines().collect::<Vec<_>>(), "maxUnavailable")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        unavailable >= 1 && unavailable < replicas,
        "the budget lets drains proceed and keeps pods serving"
    );
    let kustomization = repo_file("deploy/k8s/kustomization.yaml");
    assert!(
        kustomization.contains("- pdb.yaml") && kustomization.contains("- backup-cronjob.yaml")
    );
}
