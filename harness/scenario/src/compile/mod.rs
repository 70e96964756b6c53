//! The compile step: TOML text → [`Scenario`], gathering every error and warning in one pass.
//!
//! Syntax errors are reported first (all of them); when the file parses, the reader checks it
//! against the declared format and the checks of this module add what only the whole file shows
//! (duplicate names, unknown cases and metrics, inconsistent keys).

mod baseline;
mod behaviour;
mod cohort;
pub(crate) mod cohort_fault;
mod faults;
mod push;
mod registry;
mod selection;
mod target;

use std::ops::Range;

use toml::de::DeTable;

use crate::diagnostic::{Diagnostic, Severity, SourceFile};
use crate::model::Scenario;
use crate::read::{Fields, Item, read_table};
use crate::spec::ROOT;

/// The result of compiling a file: the scenario when there were no errors, and every
/// diagnostic (errors and warnings, in file order).
#[derive(Debug)]
pub struct Compiled {
    /// The scenario, when the file has no errors.
    pub scenario: Option<Scenario>,
    /// Errors and warnings, in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    /// The errors alone.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.severity == Severity::Error)
    }

    /// The warnings alone.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }
}

/// Compiles a scenario file. `cases` is the catalogue of case ids this build knows, in order.
pub fn compile(file: &SourceFile, cases: &[&str]) -> Compiled {
    let (root, syntax_errors) = DeTable::parse_recoverable(&file.text);
    if !syntax_errors.is_empty() {
        let diagnostics = syntax_errors
            .iter()
            .map(|e| {
                let span = e.span().unwrap_or(0..0);
                Diagnostic::error("", span, format!("TOML syntax: {}", e.message().trim()))
                    .with_help("a TOML 1.0 document (https://toml.io)")
            })
            .collect();
        return Compiled {
            scenario: None,
            diagnostics,
        };
    }
    let mut cx = Cx::default();
    let fields = read_table(root.get_ref(), &ROOT, root.span(), "", &mut cx.out);
    let scenario = assemble(&fields, file, cases, &mut cx);
    let mut diagnostics = cx.out;
    diagnostics.sort_by_key(|d| (d.span.start, d.severity == Severity::Warning));
    let has_errors = diagnostics.iter().any(|d| d.severity == Severity::Error);
    Compiled {
        scenario: scenario.filter(|_| !has_errors),
        diagnostics,
    }
}

fn assemble(fields: &Fields, file: &SourceFile, cases: &[&str], cx: &mut Cx) -> Option<Scenario> {
    let meta = fields.table("scenario");
    let empty = Fields::default();
    let target = target::target(fields.table("target").unwrap_or(&empty), cx);
    let project = target::project(fields.table("project").unwrap_or(&empty), cx);
    let bridge = registry::bridge(fields.table("bridge").unwrap_or(&empty), cx);
    let devices = registry::devices(fields.array("device"), cx);
    let faults = faults::faults(fields.array("fault"), cx);
    let declares_cohorts = !fields.array("cohort").is_empty();
    let cohorts = cohort::cohorts(fields.array("cohort"), cx);
    let phases = cohort::phases(fields.array("phase"), declares_cohorts, cx);
    let selected = selection::cases(fields.table("cases"), cases, cx);
    let case_settings = selection::case_settings(fields.table("cases"), cases, cx);
    let cohort_names: Vec<&str> = fields
        .array("cohort")
        .iter()
        .filter_map(|item| match &item.val {
            crate::read::Val::Table(cohort) => cohort.str("name"),
            _ => None,
        })
        .collect();
    let gates = selection::gates(fields.get("gates"), &cohort_names, cx);
    let push = push::push(fields.table("push").unwrap_or(&empty), &project, &target, cx);
    if let Some(target) = &target {
        credential_faults_need_the_embedded_bridge(fields.array("cohort"), &cohorts, target, cx);
        cohort_fault::expectations_the_profile_gives(fields.array("cohort"), &cohorts, target, &bridge, cx);
    }
    let baseline = baseline::baseline(fields.table("baseline").unwrap_or(&empty), cx);
    let declares_devices = fields.get("device").is_some();
    if !declares_cohorts
        && !declares_devices
        && fields.get("cases").is_none()
        && fields.get("gates").is_none()
        && fields.table("push").and_then(|p| p.get("load")).is_none()
    {
        cx.out.push(Diagnostic::warning(
            "",
            0..0,
            "this scenario does nothing: it declares no [[cohort]], [[device]], [cases] or [gates]",
        ));
    }
    Some(Scenario {
        file: file.name.clone(),
        name: meta?.str("name")?.to_owned(),
        seed: meta.and_then(|m| m.int("seed")).map_or(0, |s| s.unsigned_abs()),
        description: meta.and_then(|m| m.str("description")).map(str::to_owned),
        target: target?,
        project: project?,
        bridge,
        devices,
        faults,
        cohorts,
        cases: selected,
        case_settings,
        phases,
        gates,
        push: push?,
        baseline,
    })
}

/// A credential fault acts where fleetgate registers the devices: only on its own bridge.
fn credential_faults_need_the_embedded_bridge(
    items: &[Item],
    cohorts: &[crate::model::Cohort],
    target: &crate::model::Target,
    cx: &mut Cx,
) {
    if target.bridge == crate::model::BridgeTarget::Embedded {
        return;
    }
    for cohort in cohorts {
        let Some(fault) = cohort
            .fault
            .as_ref()
            .filter(|f| matches!(f.kind, crate::model::FaultKind::Credential(_)))
        else {
            continue;
        };
        let item = items.iter().find_map(|item| match &item.val {
            crate::read::Val::Table(t) if t.str("name") == Some(cohort.name.as_str()) => t.get("fault"),
            _ => None,
        });
        if let Some(item) = item {
            cx.error(
                item,
                format!(
                    "cohort `{}`: `{}` is applied when fleetgate registers the devices, which it does only on its embedded bridge",
                    cohort.name, fault.id
                ),
                "a token fault (auth.*, clock.*), or register the malformed credential on your bridge yourself and expect its refusal there",
            );
        }
    }
}

/// Collects diagnostics during compilation.
#[derive(Default)]
pub(crate) struct Cx {
    pub(crate) out: Vec<Diagnostic>,
}

impl Cx {
    pub(crate) fn error(&mut self, item: &Item, message: impl Into<String>, help: impl Into<String>) {
        self.out
            .push(Diagnostic::error(&item.path, item.span.clone(), message).with_help(help));
    }

    pub(crate) fn error_at(
        &mut self,
        path: &str,
        span: Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.out
            .push(Diagnostic::error(path, span, message).with_help(help));
    }

    pub(crate) fn warn(&mut self, item: &Item, message: impl Into<String>) {
        self.out
            .push(Diagnostic::warning(&item.path, item.span.clone(), message));
    }
}
