//! The subcommands.

pub(crate) mod keys;
pub(crate) mod merge;
pub(crate) mod qualify;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod serve_push;
pub(crate) mod validate;

use fleetgate_report::ReportData;
use fleetgate_runner::catalogue::cases as catalogue;

use crate::args::SchemaArgs;
use crate::exit_codes;
use crate::output::out;

/// `fleetgate schema [--report | --markdown]`.
pub(crate) fn schema(args: &SchemaArgs) -> anyhow::Result<u8> {
    if args.markdown {
        out(fleetgate_scenario::reference::markdown_reference().trim_end());
        return Ok(exit_codes::PASSED);
    }
    let schema = if args.report {
        ReportData::json_schema()
    } else {
        fleetgate_scenario::schema::json_schema()
    };
    out(&serde_json::to_string_pretty(&schema)?);
    Ok(exit_codes::PASSED)
}

/// `fleetgate cases`.
pub(crate) fn cases() -> anyhow::Result<u8> {
    for case in catalogue() {
        out(&format!("{:<40} {}", case.id, case.rule));
    }
    Ok(exit_codes::PASSED)
}
