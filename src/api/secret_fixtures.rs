//! Test fixtures shared by the Secret parsers' tests: a real self-signed certificate (EC P-256,
//! CN mycluster.example.com) and throwaway keys generated for these tests only, plus
//! credential-looking strings the tests assert never appear in messages or `Debug` output.

/// PEM of a self-signed certificate.
pub const CERT_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBljCCATugAwIBAgIUaL/bzxrbfYPevL4hoBKfPNNErM4wCgYIKoZIzj0EAwIw\n\
IDEeMBwGA1UEAwwVbXljbHVzdGVyLmV4YW1wbGUuY29tMB4XDTI2MTEyMzE4MTUy\n\
MVoXDTM2MTEyMDE4MTUyMVowIDEeMBwGA1UEAwwVbXljbHVzdGVyLmV4YW1wbGUu\n\
Y29tMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6iCUbiAYoowLwnU9dc9NaPln\n\
eXf3wKmjBlrYf8PZJVcZ0WvjZhBkLxpB8ocL8G1YDI4rsmsrlHp4AKXr0mKlOaNT\n\
MFEwHQYDVR0OBBYEFM3j5X8d5JwZ4kCD0RstV00wFDomMB8GA1UdIwQYMBaAFM3j\n\
5X8d5JwZ4kCD0RstV00wFDomMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID\n\
SQAwRgIhAJ2BDT+M/vR8MWB0/gkhSGKU5BzIvYowZu7MTRewqO/QAiEA8s8XaYAG\n\
ceVXts8ER8x4wtEkQYFSI7MUz4fe7+ye5hQ=\n\
-----END CERTIFICATE-----\n\
";

/// `CERT_PEM` in base64, as `caData`/`certData` hold it.
pub const CERT_B64: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJsakNDQVR1Z0F3SUJBZ0lVYUwvYnp4cmJmWVBldkw0aG9CS2ZQTk5Fck00d0NnWUlLb1pJemowRUF3SXcKSURFZU1Cd0dBMVVFQXd3VmJYbGpiSFZ6ZEdWeUxtVjRZVzF3YkdVdVkyOXRNQjRYRFRJMk1URXlNekU0TVRVeQpNVm9YRFRNMk1URXlNREU0TVRVeU1Wb3dJREVlTUJ3R0ExVUVBd3dWYlhsamJIVnpkR1Z5TG1WNFlXMXdiR1V1ClkyOXRNRmt3RXdZSEtvWkl6ajBDQVFZSUtvWkl6ajBEQVFjRFFnQUU2aUNVYmlBWW9vd0x3blU5ZGM5TmFQbG4KZVhmM3dLbWpCbHJZZjhQWkpWY1owV3ZqWmhCa0x4cEI4b2NMOEcxWURJNHJzbXNybEhwNEFLWHIwbUtsT2FOVApNRkV3SFFZRFZSME9CQllFRk0zajVYOGQ1SndaNGtDRDBSc3RWMDB3RkRvbU1COEdBMVVkSXdRWU1CYUFGTTNqCjVYOGQ1SndaNGtDRDBSc3RWMDB3RkRvbU1BOEdBMVVkRXdFQi93UUZNQU1CQWY4d0NnWUlLb1pJemowRUF3SUQKU1FBd1JnSWhBSjJCRFQrTS92UjhNV0IwL2draFNHS1U1QnpJdllvd1p1N01UUmV3cU8vUUFpRUE4czhYYVlBRwpjZVZYdHM4RVI4eDR3dEVrUVlGU0k3TVV6NGZlNyt5ZTVoUT0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

/// PEM of the certificate's private key (PKCS#8).
pub const KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTS4721wC4OndSSI5\n\
t+MH9uSMegl2IKB+aXSdCBQXw5ehRANCAATqIJRuIBiijAvCdT11z01o+Wd5d/fA\n\
qaMGWth/w9klVxnRa+NmEGQvGkHyhwvwbVgMjiuyayuUengApevSYqU5\n\
-----END PRIVATE KEY-----\n\
";

/// `KEY_PEM` in base64, as `keyData` holds it.
pub const KEY_B64: &str = "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JR0hBZ0VBTUJNR0J5cUdTTTQ5QWdFR0NDcUdTTTQ5QXdFSEJHMHdhd0lCQVFRZ1RTNDcyMXdDNE9uZFNTSTUKdCtNSDl1U01lZ2wySUtCK2FYU2RDQlFYdzVlaFJBTkNBQVRxSUpSdUlCaWlqQXZDZFQxMXowMW8rV2Q1ZC9mQQpxYU1HV3RoL3c5a2xWeG5SYStObUVHUXZHa0h5aHd2d2JWZ01qaXV5YXl1VWVuZ0FwZXZTWXFVNQotLS0tLUVORCBQUklWQVRFIEtFWS0tLS0tCg==";

/// An OpenSSH private key (ed25519).
pub const SSH_KEY: &str = "\
-----BEGIN OPENSSH PRIVATE KEY-----\n\
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n\
QyNTUxOQAAACAwezDSLdyYarvmp5z5oASPTD8vEU8AFO/mCX3/f1QLxQAAAIjW5Nqy1uTa\n\
sgAAAAtzc2gtZWQyNTUxOQAAACAwezDSLdyYarvmp5z5oASPTD8vEU8AFO/mCX3/f1QLxQ\n\
AAAEDDzIwZLjer2hWF98MaG/tXiqCwkmNa5X62XyQPmrATuDB7MNIt3Jhqu+annPmgBI9M\n\
Py8RTwAU7+YJff9/VAvFAAAABHRlc3QB\n\
-----END OPENSSH PRIVATE KEY-----\n\
";

/// A bearer token (the shape of a Kubernetes service-account JWT).
pub const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjVxZ2sifQ.eyJpc3MiOiJrdWJlcm5ldGVzL3NlcnZpY2VhY2NvdW50In0.c2lnbmF0dXJl";

/// A password.
pub const PASSWORD: &str = "Sup3r-S3cret-Passw0rd!";

/// A distinctive part of the base64 of [`KEY_PEM`] and of [`KEY_PEM`] itself.
pub const KEY_FRAGMENTS: [&str; 2] = ["t+MH9uSMegl2IKB", "dCtNSDl1U01lZ2wySUtC"];

/// A distinctive part of [`SSH_KEY`].
pub const SSH_KEY_FRAGMENT: &str = "AAAEDDzIwZLjer2hWF98MaG";

/// Asserts that none of the fixture credentials appears in `shown`.
pub fn assert_no_credential(shown: &str) {
    for secret in [TOKEN, PASSWORD, SSH_KEY_FRAGMENT]
        .into_iter()
        .chain(KEY_FRAGMENTS)
    {
        assert!(
            !shown.contains(secret),
            "credential {secret:?} shown in: {shown}"
        );
    }
}
