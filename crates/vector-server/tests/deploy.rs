//! The deployment files agree with the binary: the paths their probes hit are routes that
//! answer 200, the port is the default port, and every environment variable they set is one
//! `vtier serve` reads. (No Docker engine or cluster is needed: the files are read as text.)

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

/// Environment variables `vtier serve` reads: its flags' and the backend config's.
fn known_env() -> Vec<String> {
    let mut names: Vec<String> = Cli::command()
        .get_arguments()
        .filter_map(|a| a.get_env().map(|e| e.to_string_lossy().into_owned()))
        .collect();
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
    let health = docker.lines().find(|l| l.contains("CMD curl")).unwrap();
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
    let prometheus = repo_file("compose/prometheus.yml");
    assert!(prometheus.contains("metrics_path: /metrics") && prometheus.contains("vtier:8000"));
}
