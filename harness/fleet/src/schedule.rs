//! Open-loop send schedules. Each message has an intended send time fixed in advance (a fixed
//! interval from a random phase, or Poisson arrivals), so a slow bridge cannot slow the offered
//! load down, and latency measured from the intended time includes any wait the device itself
//! suffered (no coordinated omission).

use std::time::Duration;

use crate::rng::Rng;

/// The shape of a schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleKind {
    /// One message every interval; devices start at a random phase within the first interval.
    Fixed,
    /// Poisson arrivals: exponential gaps with the interval as mean.
    Poisson,
}

/// The intended send times of one device's stream.
#[derive(Clone, Debug)]
pub struct Ticker {
    every: Duration,
    kind: ScheduleKind,
    next: Duration,
}

impl Ticker {
    /// A stream that begins at `start` (the first message falls within one interval of it).
    pub fn new(every: Duration, kind: ScheduleKind, start: Duration, rng: &mut Rng) -> Self {
        let every = every.max(Duration::from_micros(1));
        let first = match kind {
            ScheduleKind::Fixed => every.mul_f64(rng.unit()),
            ScheduleKind::Poisson => gap(every, rng),
        };
        Self {
            every,
            kind,
            next: start + first,
        }
    }

    /// The next intended send time.
    pub fn next(&self) -> Duration {
        self.next
    }

    /// Takes the next intended send time and schedules the one after it.
    pub fn advance(&mut self, rng: &mut Rng) -> Duration {
        let due = self.next;
        self.next += match self.kind {
            ScheduleKind::Fixed => self.every,
            ScheduleKind::Poisson => gap(self.every, rng),
        };
        due
    }
}

/// An exponential gap with mean `every`.
fn gap(every: Duration, rng: &mut Rng) -> Duration {
    let u = 1.0 - rng.unit();
    every.mul_f64(-u.ln()).max(Duration::from_micros(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_schedule_is_evenly_spaced_from_a_phase_within_the_first_interval() {
        let every = Duration::from_millis(100);
        let mut rng = Rng::new(1, 2);
        let start = Duration::from_secs(5);
        let mut ticker = Ticker::new(every, ScheduleKind::Fixed, start, &mut rng);
        let first = ticker.advance(&mut rng);
        assert!(first >= start && first < start + every);
        for n in 1..10 {
            assert_eq!(ticker.advance(&mut rng), first + every * n);
        }
    }

    #[test]
    fn poisson_gaps_average_the_interval_and_vary() {
        let every = Duration::from_millis(10);
        let mut rng = Rng::new(4, 0);
        let mut ticker = Ticker::new(every, ScheduleKind::Poisson, Duration::ZERO, &mut rng);
        let mut last = ticker.advance(&mut rng);
        let mut gaps = Vec::new();
        for _ in 0..20_000 {
            let next = ticker.advance(&mut rng);
            gaps.push((next - last).as_secs_f64());
            last = next;
        }
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((0.0095..0.0105).contains(&mean), "mean gap {mean}");
        let short = gaps.iter().filter(|g| **g < 0.005).count() as f64 / gaps.len() as f64;
        assert!(
            (0.35..0.43).contains(&short),
            "share of gaps under half the mean: {short}"
        );
    }
}
