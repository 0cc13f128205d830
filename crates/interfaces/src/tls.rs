//! TLS for the service's HTTP and gRPC APIs (rustls with the ring provider), and for the
//! clients of them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::pki_types::pem::PemObject;

/// A certificate chain and its private key, PEM files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Both files' contents.
    pub fn read(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let read =
            |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
        Ok((read(&self.cert)?, read(&self.key)?))
    }
}

/// Makes ring the process's rustls provider (once; later calls do nothing).
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client configuration that trusts the system's roots, plus the PEM `ca` if given.
pub fn client_config(ca: Option<&Path>) -> Result<rustls::ClientConfig> {
    install_provider();
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs_roots();
    roots.add_parsable_certificates(native);
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| format!("cannot read {}", ca.display()))?;
        let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("{} holds no PEM certificate", ca.display()))?;
        anyhow::ensure!(
            !certs.is_empty(),
            "{} holds no PEM certificate",
            ca.display()
        );
        roots.add_parsable_certificates(certs);
    }
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(Arc::new(roots))
        .with_no_client_auth())
}

/// The machine's trusted roots (Debian: /etc/ssl/certs), if any can be read.
fn rustls_native_certs_roots() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    std::fs::read(bundle)
        .ok()
        .map(|pem| {
            rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
                .filter_map(Result::ok)
                .map(|c| c.into_owned())
                .collect()
        })
        .unwrap_or_default()
}
