//! The scenario format reference as Markdown, generated from the [`spec`](crate::spec)
//! declarations (`fleetgate schema --markdown`); the README embeds it verbatim.

use std::fmt::Write as _;

use crate::spec::{Kind, ROOT, TableSpec};

/// One Markdown section per table of the format, in file order.
pub fn markdown_reference() -> String {
    let mut out = String::new();
    let mut seen: Vec<&str> = Vec::new();
    section(&ROOT, &mut out, &mut seen);
    out
}

fn section(spec: &'static TableSpec, out: &mut String, seen: &mut Vec<&'static str>) {
    if seen.contains(&spec.title) {
        return;
    }
    seen.push(spec.title);
    let _ = writeln!(out, "#### {}\n\n{}\n", heading(spec), spec.doc);
    let _ = writeln!(out, "| key | accepts | default | meaning |\n|---|---|---|---|");
    for key in spec.keys {
        let default = match (key.required, key.default) {
            (true, _) => "required".to_owned(),
            (false, Some(d)) => format!("`{d}`"),
            (false, None) => "—".to_owned(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {default} | {} |",
            key.name,
            accepts(&key.kind),
            key.doc.replace('|', "\\|")
        );
    }
    out.push('\n');
    for key in spec.keys {
        for child in tables(&key.kind) {
            section(child, out, seen);
        }
    }
}

fn heading(spec: &TableSpec) -> String {
    if spec.title == ROOT.title {
        "Top level".to_owned()
    } else {
        format!("`{}`", spec.title)
    }
}

fn tables(kind: &'static Kind) -> Vec<&'static TableSpec> {
    match kind {
        Kind::Table(spec) => vec![spec],
        Kind::Array(inner) => tables(inner),
        Kind::Map { value, .. } => tables(value),
        Kind::OneOf(alternatives) => alternatives.iter().flat_map(tables).collect(),
        _ => Vec::new(),
    }
}

fn accepts(kind: &Kind) -> String {
    match kind {
        Kind::Str => "string".into(),
        Kind::Ident => "name".into(),
        Kind::Int { min, max } => format!("integer {min}–{max}"),
        Kind::Float { min, max } => format!("number {min}–{max}"),
        Kind::Bool => "boolean".into(),
        Kind::Duration => "duration".into(),
        Kind::SignedDuration => "signed duration".into(),
        Kind::Rate => "rate".into(),
        Kind::Size => "size".into(),
        Kind::Threshold => "threshold".into(),
        Kind::Enum(choices) => {
            let quoted: Vec<String> = choices.iter().map(|c| format!("`\"{c}\"`")).collect();
            quoted.join(" \\| ")
        }
        Kind::Table(spec) => format!("table ({})", heading(spec)),
        Kind::Array(inner) => format!("array of {}", accepts(inner)),
        Kind::OneOf(alternatives) => {
            let all: Vec<String> = alternatives.iter().map(accepts).collect();
            all.join(" or ")
        }
        Kind::Map { value, .. } => format!("table of metric → {}", accepts(value)),
    }
}
