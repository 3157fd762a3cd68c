//! The simulator's certificate authority, its serving certificate and client certificates,
//! generated at start with rcgen; and the rustls server configuration.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;

/// TLS setup failed (only on a broken crypto backend; reported, never panics).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("configuring TLS: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("configuring client certificate verification: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The CA and what it signs.
pub struct Authority {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("ca_pem", &"<certificate>")
            .finish_non_exhaustive()
    }
}

/// A client certificate and its private key, PEM.
pub struct ClientCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for ClientCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCert(<redacted>)")
    }
}

impl Authority {
    pub fn new() -> Result<Self, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "flotilla-sim-ca");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key)?;
        let ca_pem = cert.pem();
        let ca_der = cert.der().clone();
        let issuer = Issuer::new(params, key);
        Ok(Self {
            ca_pem,
            ca_der,
            issuer,
        })
    }

    /// The CA certificate, PEM (what kubeconfigs carry as certificate-authority-data).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A server configuration for 127.0.0.1 / localhost that also accepts (but doesn't require)
    /// client certificates signed by this CA.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec![
            "localhost".to_string(),
            "kubernetes.default.svc".to_string(),
        ])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::IpAddr::V4(
                std::net::Ipv4Addr::LOCALHOST,
            )));
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![cert.der().clone(), self.ca_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A client certificate for `user` in `group` (CN and O, as kube-apiserver reads them).
    /// rcgen writes one O per subject, so a certificate carries at most one group.
    pub fn client_cert(&self, user: &str, group: Option<&str>) -> Result<ClientCert, TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, user);
        if let Some(g) = group {
            params.distinguished_name.push(DnType::OrganizationName, g);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ClientCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// The user and groups of a verified client certificate (subject CN and O).
pub fn cert_identity(der: &CertificateDer<'_>) -> Option<(String, Vec<String>)> {
    // A minimal DER walk to the subject: Certificate -> TBSCertificate -> fields.
    let (cert, _) = der_seq(der.as_ref())?;
    let (tbs, _) = der_seq(cert)?;
    let mut rest = tbs;
    // Optional [0] version.
    if rest.first() == Some(&0xa0) {
        rest = der_skip(rest)?;
    }
    // serialNumber, signature, issuer, validity, then subject.
    for _ in 0..4 {
        rest = der_skip(rest)?;
    }
    let (subject, _) = der_seq(rest)?;
    let mut cn = None;
    let mut orgs = Vec::new();
    let mut rdns = subject;
    while !rdns.is_empty() {
        let (set, next) = der_tlv(rdns, 0x31)?;
        rdns = next;
        let (atv, _) = der_seq(set)?;
        let (oid, value_rest) = der_tlv(atv, 0x06)?;
        let (tag, value, _) = der_any(value_rest)?;
        if !matches!(tag, 0x0c | 0x13 | 0x16) {
            continue;
        }
        let text = String::from_utf8(value.to_vec()).ok()?;
        match oid {
            [0x55, 0x04, 0x03] => cn = Some(text),
            [0x55, 0x04, 0x0a] => orgs.push(text),
            _ => {}
        }
    }
    Some((cn?, orgs))
}

fn der_any(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)? as usize;
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *input.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    Some((tag, input.get(header..end)?, input.get(end..)?))
}

fn der_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, value, rest) = der_any(input)?;
    (t == tag).then_some((value, rest))
}

fn der_seq(input: &[u8]) -> Option<(&[u8], &[u8])> {
    der_tlv(input, 0x30)
}

fn der_skip(input: &[u8]) -> Option<&[u8]> {
    der_any(input).map(|(_, _, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_certificates_carry_user_and_groups() {
        let ca = Authority::new().unwrap();
        let cc = ca.client_cert("alice", Some("ops")).unwrap();
        let der =
            rustls::pki_types::pem::PemObject::from_pem_slice(cc.cert_pem.as_bytes()).unwrap();
        let (user, groups) = cert_identity(&der).unwrap();
        assert_eq!(user, "alice");
        assert_eq!(groups, ["ops"]);
        assert!(ca.server_config().is_ok());
    }
}
