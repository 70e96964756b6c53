//! One device's qualification: its cases one after another, each with its verdict sent as
//! soon as it is known.

use std::time::Instant;

use fleetgate_bridge::tls::BadCertificate;
use fleetgate_report::{CaseResult, Verdict};
use tokio::sync::mpsc::UnboundedSender;

use super::catalogue::DeviceCase;
use super::device::{Device, Finding};
use super::{delivery, judged, provoked};

/// Runs `cases` against `device`, sending each result to `results`.
pub(super) async fn device(mut device: Device, cases: &[DeviceCase], results: &UnboundedSender<CaseResult>) {
    let mut never_connected = false;
    for case in cases {
        let started = Instant::now();
        let finding = match never_connected {
            true => Finding::skipped("not run: the device never connected"),
            false => one(&mut device, *case).await,
        };
        if *case == DeviceCase::Connect
            && device.history.iter().all(|r| {
                super::device::attempt(r)
                    .is_none_or(|a| a.verdict != fleetgate_bridge::events::Verdict::Accepted)
            })
        {
            never_connected = finding.verdict == Verdict::Failed;
        }
        let result = CaseResult {
            id: case.id().to_owned(),
            device: Some(device.id.clone()),
            rule: case.rule().to_owned(),
            verdict: finding.verdict,
            duration_secs: started.elapsed().as_secs_f64(),
            message: finding.message,
            evidence: finding.evidence,
        };
        if results.send(result).is_err() {
            return;
        }
    }
}

async fn one(device: &mut Device, case: DeviceCase) -> Finding {
    let settings = device.shared.settings(case);
    match case {
        DeviceCase::Connect => judged::connect(device, settings.timeout).await,
        DeviceCase::ClockOffset => judged::clock_offset(device),
        DeviceCase::TlsUntrustedCa => provoked::tls(device, BadCertificate::UntrustedCa, settings).await,
        DeviceCase::TlsWrongHost => provoked::tls(device, BadCertificate::WrongHost, settings).await,
        DeviceCase::TlsExpired => provoked::tls(device, BadCertificate::Expired, settings).await,
        DeviceCase::BackoffRefused => provoked::backoff_refused(device, settings).await,
        DeviceCase::BackoffNoConnack => provoked::backoff_no_connack(device, settings).await,
        DeviceCase::FreshToken => provoked::fresh_token(device, settings).await,
        DeviceCase::Qos1Republish => delivery::qos1_republish(device, settings).await,
        DeviceCase::ConfigAck => delivery::config_ack(device, settings).await,
        DeviceCase::Commands => delivery::commands(device, settings).await,
        DeviceCase::Keepalive => judged::keepalive(device, settings.timeout).await,
        DeviceCase::Topics => judged::topics(device),
        DeviceCase::RefreshBeforeExpiry => delivery::refresh(device, settings).await,
        DeviceCase::LongOutage => delivery::long_outage(device, settings).await,
    }
}
