//! `fleetgate keys generate`: a key pool generated once, deterministically from a seed, on every
//! core, with progress on a terminal (RSA keys cost tens of milliseconds each).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use fleetgate_runner::{Alg, KeySpec, pool};

use crate::args::KeysGenerateArgs;
use crate::exit_codes;
use crate::output::{error, out};

pub(crate) fn generate(args: &KeysGenerateArgs) -> anyhow::Result<u8> {
    let alg: Alg = match args.alg.parse() {
        Ok(alg) => alg,
        Err(e) => {
            error(&format!("--alg {}: {e}", args.alg));
            return Ok(exit_codes::INVALID);
        }
    };
    let spec = match (alg, args.bits) {
        (Alg::Rs256, Some(bits)) if [1024, 2048, 3072, 4096].contains(&bits) => KeySpec::Rsa(bits),
        (Alg::Rs256, None) => KeySpec::RSA_2048,
        (Alg::Es256, None) => KeySpec::P256,
        (_, Some(bits)) => {
            error(&format!(
                "--bits {bits}: RS256 keys are 1024, 2048, 3072 or 4096 bits; ES256 keys take no --bits"
            ));
            return Ok(exit_codes::INVALID);
        }
    };
    let started = Instant::now();
    let mut progress = Progress::new(args.count);
    if let Err(e) = pool::generate_spec(spec, args.count, args.seed, &args.out, &mut |done, total| {
        progress.show(done, total)
    }) {
        progress.finish();
        error(&format!("cannot generate the pool: {e}"));
        return Ok(exit_codes::ENVIRONMENT);
    }
    progress.finish();
    out(&format!(
        "{} {spec} keys (seed {}) in {}: {:.2} s",
        args.count,
        args.seed,
        args.out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(exit_codes::PASSED)
}

/// A progress line on stderr: redrawn in place on a terminal, else one line per tenth.
struct Progress {
    terminal: bool,
    last: Option<Instant>,
    tenth: usize,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: None,
            tenth: total.div_ceil(10).max(1),
        }
    }

    fn show(&mut self, done: usize, total: usize) {
        let mut stderr = std::io::stderr().lock();
        if self.terminal {
            let due = self
                .last
                .is_none_or(|t| t.elapsed() >= Duration::from_millis(100))
                || done == total;
            if due {
                self.last = Some(Instant::now());
                let _ = write!(
                    stderr,
                    "\rgenerating keys: {done}/{total} ({}%)",
                    done * 100 / total.max(1)
                );
            }
        } else if done.is_multiple_of(self.tenth) || done == total {
            let _ = writeln!(stderr, "generating keys: {done}/{total}");
        }
    }

    fn finish(&self) {
        if self.terminal && self.last.is_some() {
            let _ = writeln!(std::io::stderr().lock());
        }
    }
}
