//! Every scenario shipped in `scenarios/` validates, even with warnings denied, and runs.

#![allow(clippy::unwrap_used)] // test helpers fail loudly on broken fixtures

mod common;

fn shipped() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(common::root().join("scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| format!("scenarios/{}", p.file_name().unwrap().to_str().unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_scenario_is_valid_without_warnings() {
    let files = shipped();
    assert!(!files.is_empty());
    let mut args = vec!["validate", "--deny-warnings"];
    args.extend(files.iter().map(String::as_str));
    let (code, _, stderr) = common::text(&common::fleetgate(&args));
    assert_eq!(code, 0, "{stderr}");
    for file in &files {
        assert!(stderr.contains(&format!("{file}: valid")), "{stderr}");
    }
}

#[test]
fn validate_checks_every_scenario_in_a_folder() {
    let (code, _, stderr) = common::text(&common::fleetgate(&["validate", "--deny-warnings", "scenarios"]));
    assert_eq!(code, 0, "{stderr}");
    for file in shipped() {
        assert!(stderr.contains(&format!("{file}: valid")), "{file}: {stderr}");
    }
    let (code, _, stderr) = common::text(&common::fleetgate(&["validate", "fixtures/scenarios-invalid"]));
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("fixtures/scenarios-invalid/zero-devices.toml"),
        "every file of the folder is checked: {stderr}"
    );
    let empty = tempfile::tempdir().unwrap();
    let (code, _, stderr) = common::text(&common::fleetgate(&["validate", empty.path().to_str().unwrap()]));
    assert_eq!(code, 2);
    assert!(stderr.contains("holds no scenario file (*.toml)"), "{stderr}");
}

#[test]
fn the_json_schema_accepts_every_shipped_scenario() {
    let output = common::fleetgate(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for file in shipped() {
        let text = std::fs::read_to_string(common::root().join(&file)).unwrap();
        let document: serde_json::Value = toml::from_str(&text).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&document)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:#?}");
    }
}

#[test]
fn the_json_schema_refuses_what_validate_refuses_for_structure() {
    let output = common::fleetgate(&["schema"]);
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for fixture in [
        "unknown-key",
        "wrong-type",
        "zero-devices",
        "negative-seed",
        "bad-rate",
        "bad-duration",
        "unknown-profile",
    ] {
        let text = std::fs::read_to_string(
            common::root().join(format!("fixtures/scenarios-invalid/{fixture}.toml")),
        )
        .unwrap();
        let document: serde_json::Value = toml::from_str(&text).unwrap();
        assert!(
            !validator.is_valid(&document),
            "{fixture} should break the schema too"
        );
    }
}

#[test]
fn the_readme_embeds_the_current_format_reference() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    let start = "<!-- format-reference:start -->\n";
    let end = "<!-- format-reference:end -->";
    let from = readme.find(start).expect("README has the start marker") + start.len();
    let to = readme.find(end).expect("README has the end marker");
    let (_, generated, _) = common::text(&common::fleetgate(&["schema", "--markdown"]));
    assert_eq!(
        readme[from..to],
        generated,
        "README's format reference is stale: replace it with `fleetgate schema --markdown`"
    );
}
