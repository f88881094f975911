//! Certificates for the mutual-TLS tests, made by the `openssl` command of this machine: a
//! CA, a certificate it signs for the services (and their clients), and a second CA with a
//! certificate of its own, which the services must refuse.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Certificates {
    pub directory: PathBuf,
}

impl Certificates {
    pub fn path(&self, file: &str) -> String {
        self.directory.join(file).to_string_lossy().into_owned()
    }

    pub fn read(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.directory.join(file)).expect("a generated certificate file")
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

fn openssl(directory: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(directory)
        .output()
        .expect("the openssl command runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn authority(directory: &Path, name: &str) {
    openssl(
        directory,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn leaf(directory: &Path, name: &str, authority: &str) {
    openssl(
        directory,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    openssl(
        directory,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{authority}.pem"),
            "-CAkey",
            &format!("{authority}.key"),
            "-CAcreateserial",
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
}

/// `ca.pem`; `service.pem`/`service.key` signed by it (for 127.0.0.1 and localhost, server and
/// client use) and `integrator.pem`/`.key`/`.der` too; `rogue.pem`/`rogue.key` signed by
/// another CA.
pub fn generate() -> Certificates {
    let directory = std::env::temp_dir().join(format!("tsunagu-tls-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&directory).expect("a temporary directory");
    std::fs::write(
        directory.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n\
         basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n",
    )
    .expect("write the extensions");
    authority(&directory, "ca");
    leaf(&directory, "service", "ca");
    // An integrator's own certificate, and its DER form (what a certificate key is made of).
    leaf(&directory, "integrator", "ca");
    openssl(
        &directory,
        &[
            "x509",
            "-in",
            "integrator.pem",
            "-outform",
            "der",
            "-out",
            "integrator.der",
        ],
    );
    authority(&directory, "other-ca");
    leaf(&directory, "rogue", "other-ca");
    Certificates { directory }
}
