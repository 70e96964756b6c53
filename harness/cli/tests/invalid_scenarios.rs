//! Every file in `fixtures/scenarios-invalid/` is refused by `fleetgate validate --deny-warnings`
//! with exit code 2, and its exact output is kept as a snapshot beside the fixtures
//! (`fixtures/scenarios-invalid/snapshots/`). Review changes with `cargo insta review`.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on broken fixtures

mod common;

use std::path::Path;

#[test]
fn each_invalid_fixture_prints_every_error_and_exits_2() {
    let dir = common::root().join("fixtures/scenarios-invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 12,
        "at least 12 distinct mistakes, found {}",
        files.len()
    );
    for path in files {
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let relative = Path::new("fixtures/scenarios-invalid").join(path.file_name().unwrap());
        let output = common::fleetgate(&["validate", "--deny-warnings", relative.to_str().unwrap()]);
        let (code, stdout, stderr) = common::text(&output);
        assert_eq!(code, 2, "{name}: expected exit 2\n{stderr}");
        assert_eq!(stdout, "", "{name}: diagnostics go to stderr");
        assert!(
            stderr.contains(&format!("--> {}:", relative.display())),
            "{name}: every diagnostic has file:line:col\n{stderr}"
        );
        insta::with_settings!({
            snapshot_path => dir.join("snapshots"),
            prepend_module_to_snapshot => false,
            omit_expression => true,
            description => format!("fleetgate validate --deny-warnings {}", relative.display()),
        }, {
            insta::assert_snapshot!(name, stderr);
        });
    }
}

#[test]
fn a_file_that_is_not_utf8_is_refused_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("latin1.toml");
    std::fs::write(&path, b"[scenario]\nname = \"caf\xe9\"\n").unwrap();
    let output = common::fleetgate(&["validate", path.to_str().unwrap()]);
    let (code, _, stderr) = common::text(&output);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("latin1.toml:2:12: the file is not UTF-8 text (byte 0xe9 at offset 22)"),
        "{stderr}"
    );
}

#[test]
fn run_refuses_values_beyond_the_engine_instead_of_overflowing() {
    let output = common::fleetgate(&["run", "fixtures/scenarios-invalid/out-of-bounds.toml"]);
    let (code, _, stderr) = common::text(&output);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("phase[0].hold"), "{stderr}");
    assert!(stderr.len() < 8_000, "the 5,000-character value is cut: {stderr}");
}
