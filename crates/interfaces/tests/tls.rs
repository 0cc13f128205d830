//! Both APIs of `correlation-service` over TLS, with a certificate made by `openssl` for
//! 127.0.0.1: `tapio insights` trusts it through `--ca`, refuses it without, and the
//! generated gRPC client talks TLS too.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{example, free_port, publish, wait_for_port, CorrelationService, NatsServer};
use tapio_interfaces::grpc_api::proto::tapio_client::TapioClient;
use tapio_interfaces::grpc_api::proto::ListInsightsRequest;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const TOKEN: &str = "tls-test-token-0c4e";

/// A test CA (`ca.pem`) and a server certificate it signed for 127.0.0.1 (`cert.pem`,
/// `key.pem`), as a real deployment would have them.
fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl is installed");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"],
            &ec[..],
            &[
                "-days",
                "1",
                "-subj",
                "/CN=tapio-test-ca",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"],
            &ec[..],
            &[
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "key.pem",
                "-out",
                "server.csr",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "server.ext",
        "-out",
        "cert.pem",
    ]);
}

fn insights(server: &str, ca: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tapio"));
    cmd.args(["insights", "--format", "json", "--server", server])
        .env("TAPIO_API_TOKEN", TOKEN);
    if let Some(ca) = ca {
        cmd.arg("--ca").arg(ca);
    }
    cmd.output().unwrap()
}

#[test]
fn http_and_grpc_apis_over_tls() {
    let Some(nats) = NatsServer::start("tls") else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("tapio-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    publish(&nats.url(), &example("flagship-configmap-oom.jsonl"));
    let grpc = free_port();
    let service = CorrelationService::start_with(
        &nats.url(),
        TOKEN,
        &[
            "--tls-cert".into(),
            cert.display().to_string(),
            "--tls-key".into(),
            key.display().to_string(),
            "--grpc-listen".into(),
            format!("127.0.0.1:{grpc}"),
        ],
    );
    let https = format!("https://127.0.0.1:{}", service.port);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = insights(&https, Some(&ca));
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.contains("cart-config") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no insight over HTTPS within 60 s: {}{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let untrusted = insights(&https, None);
    assert!(!untrusted.status.success());
    assert!(
        String::from_utf8_lossy(&untrusted.stderr).contains("certificate"),
        "{untrusted:?}"
    );
    let plain = insights(&format!("http://127.0.0.1:{}", service.port), None);
    assert!(!plain.status.success(), "plain HTTP must not be served");

    assert!(wait_for_port(grpc, Duration::from_secs(10)));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listed = rt.block_on(async {
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(&ca).unwrap()))
            .domain_name("127.0.0.1");
        let channel = Channel::from_shared(format!("https://127.0.0.1:{grpc}"))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut request = tonic::Request::new(ListInsightsRequest::default());
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
        TapioClient::new(channel)
            .list_insights(request)
            .await
            .unwrap()
            .into_inner()
    });
    assert!(!listed.insights.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}
