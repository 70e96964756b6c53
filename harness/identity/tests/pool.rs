//! Key pools: deterministic generation, progress, loading, and errors naming the file.
#![allow(clippy::unwrap_used)] // test helpers fail loudly

use std::path::Path;

use fleetgate_identity::pool::{self, PoolError};
use fleetgate_identity::{Alg, KeySpec};

fn generate(alg: Alg, count: usize, seed: u64, dir: &Path) -> Vec<(usize, usize)> {
    let mut calls = Vec::new();
    pool::generate(alg, count, seed, dir, &mut |done, total| {
        calls.push((done, total))
    })
    .unwrap();
    calls
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join("keys").join(file)).unwrap()
}

#[test]
fn pools_are_deterministic_from_the_seed_and_report_progress() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let calls = generate(Alg::Es256, 6, 7, a.path());
    assert_eq!(calls, (1..=6).map(|d| (d, 6)).collect::<Vec<_>>());
    generate(Alg::Es256, 6, 7, b.path());
    generate(Alg::Es256, 6, 8, c.path());
    for i in 0..6 {
        let name = format!("{i:05}.pem");
        assert_eq!(read(a.path(), &name), read(b.path(), &name));
        assert_ne!(read(a.path(), &name), read(c.path(), &name));
    }
    assert!(read(a.path(), "00000.traditional.pem").starts_with("-----BEGIN EC PRIVATE KEY-----"));
    assert!(read(a.path(), "00005.pub.pem").starts_with("-----BEGIN PUBLIC KEY-----"));
    let loaded = pool::load(a.path()).unwrap();
    assert_eq!(
        (loaded.spec, loaded.seed, loaded.keys.len()),
        (KeySpec::P256, 7, 6)
    );
    assert_eq!(loaded.keys[3].spki_pem(), read(a.path(), "00003.pub.pem"));
}

#[test]
fn rsa_pools_write_pkcs8_and_pkcs1() {
    let dir = tempfile::tempdir().unwrap();
    pool::generate_spec(KeySpec::Rsa(1024), 2, 1, dir.path(), &mut |_, _| {}).unwrap();
    assert!(read(dir.path(), "00001.pem").starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(read(dir.path(), "00001.traditional.pem").starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let loaded = pool::load(dir.path()).unwrap();
    assert_eq!(loaded.spec, KeySpec::Rsa(1024));
    assert_eq!(loaded.keys[1].alg(), Alg::Rs256);
}

#[test]
fn load_errors_name_the_file_and_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let err = pool::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, PoolError::Io { .. }) && err.to_string().contains("manifest.json"),
        "{err}"
    );
    generate(Alg::Es256, 3, 1, dir.path());
    std::fs::write(
        dir.path().join("keys/00002.pem"),
        "-----BEGIN PRIVATE KEY-----\nAAAA\n",
    )
    .unwrap();
    let err = pool::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("00002.pem") && err.contains("expected a PEM"),
        "{err}"
    );
    let manifest = dir.path().join("manifest.json");
    std::fs::write(
        &manifest,
        r#"{"alg":"RS256","spec":"RSA-2048","count":3,"seed":1}"#,
    )
    .unwrap();
    std::fs::copy(
        dir.path().join("keys/00001.pem"),
        dir.path().join("keys/00002.pem"),
    )
    .unwrap();
    let err = pool::load(dir.path()).unwrap_err();
    assert!(
        matches!(err, PoolError::WrongKind { .. }) && err.to_string().contains("00000.pem"),
        "{err}"
    );
    std::fs::write(&manifest, r#"{"spec":"DSA"}"#).unwrap();
    let err = pool::load(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("manifest.json") && err.contains("unknown key spec `DSA`"),
        "{err}"
    );
}
