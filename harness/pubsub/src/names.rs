//! Resource names: `projects/{project}/topics/{topic}`, `projects/{project}/subscriptions/{sub}`
//! and `projects/{project}/snapshots/{snapshot}`,
//! checked by Google's rules (an id of 3–255 characters, starting with a letter, made of letters,
//! digits and `-_.~+%`, and not starting with `goog`).

use crate::error::Error;

/// The kind of a resource name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `projects/{p}/topics/{t}`.
    Topic,
    /// `projects/{p}/subscriptions/{s}`.
    Subscription,
    /// `projects/{p}/snapshots/{s}`.
    Snapshot,
}

impl Kind {
    fn collection(self) -> &'static str {
        match self {
            Self::Topic => "topics",
            Self::Subscription => "subscriptions",
            Self::Snapshot => "snapshots",
        }
    }
}

/// Checks a full resource name of `kind` and returns its project id.
pub fn check(kind: Kind, name: &str) -> Result<&str, Error> {
    let invalid = || Error::invalid(format!("Invalid [{}] name: (name={name})", kind.collection()));
    let mut parts = name.split('/');
    let (Some("projects"), Some(project), Some(collection), Some(id), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    if project.is_empty() || collection != kind.collection() || !valid_id(id) {
        return Err(invalid());
    }
    Ok(project)
}

/// Checks a `projects/{project}` name and returns the project id.
pub fn check_project(name: &str) -> Result<&str, Error> {
    match name.split_once('/') {
        Some(("projects", project)) if !project.is_empty() && !project.contains('/') => Ok(project),
        _ => Err(Error::invalid(format!("Invalid [projects] name: (name={name})"))),
    }
}

/// The project id of a name already checked by [`check`].
pub fn project_of(name: &str) -> &str {
    name.split('/').nth(1).unwrap_or_default()
}

/// The last segment of a resource name (the topic or subscription id).
pub fn id_of(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn valid_id(id: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-_.~+%".contains(c);
    (3..=255).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_alphabetic())
        && !id.starts_with("goog")
        && id.chars().all(allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_google_style_names() {
        assert_eq!(
            check(Kind::Topic, "projects/p1/topics/telemetry-1").unwrap(),
            "p1"
        );
        assert_eq!(
            check(Kind::Subscription, "projects/p/subscriptions/a.b~c+d%e_f").unwrap(),
            "p"
        );
        assert_eq!(check_project("projects/demo").unwrap(), "demo");
    }

    #[test]
    fn refuses_bad_names_with_invalid_argument() {
        for bad in [
            "projects/p/topics/ab",
            "projects/p/topics/1abc",
            "projects/p/topics/googtopic",
            "projects/p/topics/has space",
            "projects/p/subscriptions/abc",
            "projects//topics/abc",
            "topics/abc",
            "projects/p/topics/abc/extra",
        ] {
            let err = check(Kind::Topic, bad).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{bad}");
            assert!(err.to_string().contains(bad), "{err}");
        }
        assert!(check_project("projects/a/b").is_err());
    }
}
