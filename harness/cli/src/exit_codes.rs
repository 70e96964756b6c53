//! fleetgate's exit codes: the one place they are defined (documented in the README).

/// All cases and gates passed.
pub const PASSED: u8 = 0;
/// A case, gate or baseline comparison failed.
pub const FAILED: u8 = 1;
/// The scenario or the arguments are invalid (nothing was run).
pub const INVALID: u8 = 2;
/// The environment could not start: a port, Docker, an unreachable target, an unwritable
/// report folder. The reports say why (outcome `error`).
pub const ENVIRONMENT: u8 = 3;
/// fleetgate itself failed: a bug worth reporting.
pub const INTERNAL: u8 = 4;
/// The run was interrupted (Ctrl-C or SIGTERM): it stopped in bounded time and wrote every
/// report with outcome `aborted` and what was measured until then.
pub const ABORTED: u8 = 5;
