//! Google's signing keys as the verifier holds them: fetched from the JWKS URL over HTTP, kept
//! for the `max-age` the answer allows, refetched when a token names a `kid` not among them.
//!
//! One lock is held across a fetch, so concurrent pushes that all need keys cause one request.
//! A `kid` still unknown after a refetch is remembered until the next fetch: a stream of tokens
//! under that `kid` is refused without hammering the JWKS endpoint.

use std::collections::HashSet;
use std::time::Duration;

use fleetgate_identity::credentials::PublicKey;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::jwks::{self, JwksError};

/// Why the keys could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum KeyFetchError {
    /// The request failed (connection, timeout, body).
    #[error("fetching the JWKS at {url}: {error}")]
    Http {
        /// The JWKS URL.
        url: String,
        /// What went wrong.
        error: reqwest::Error,
    },
    /// The endpoint answered with a status other than 200.
    #[error("the JWKS at {url} answered HTTP {status}, expected 200")]
    Status {
        /// The JWKS URL.
        url: String,
        /// The status it answered.
        status: u16,
    },
    /// The document could not be read.
    #[error("the JWKS at {url}: {error}")]
    Document {
        /// The JWKS URL.
        url: String,
        /// What is wrong with it.
        error: JwksError,
    },
}

#[derive(Default)]
struct Cached {
    keys: Vec<(String, PublicKey)>,
    expires: Option<Instant>,
    unknown: HashSet<String>,
}

/// The key cache of one verifier.
pub(crate) struct KeyCache {
    client: reqwest::Client,
    url: String,
    cached: Mutex<Cached>,
}

impl KeyCache {
    pub(crate) fn new(client: reqwest::Client, url: String) -> Self {
        Self {
            client,
            url,
            cached: Mutex::new(Cached::default()),
        }
    }

    /// The keys to verify a token whose header names `kid` (or none). Fetches when the cache is
    /// empty or past its `max-age`; refetches once when `kid` is not among still-fresh keys.
    pub(crate) async fn keys_for(
        &self,
        kid: Option<&str>,
    ) -> Result<Vec<(String, PublicKey)>, KeyFetchError> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.expires.is_some_and(|at| Instant::now() < at);
        if !fresh {
            *cached = self.fetch().await?;
        } else if let Some(kid) = kid {
            let known = cached.keys.iter().any(|(k, _)| k == kid);
            if !known && !cached.unknown.contains(kid) {
                *cached = self.fetch().await?;
            }
        }
        if let Some(kid) = kid
            && !cached.keys.iter().any(|(k, _)| k == kid)
        {
            cached.unknown.insert(kid.to_owned());
        }
        Ok(cached.keys.clone())
    }

    async fn fetch(&self) -> Result<Cached, KeyFetchError> {
        let http = |error| KeyFetchError::Http {
            url: self.url.clone(),
            error,
        };
        let response = self.client.get(&self.url).send().await.map_err(http)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(KeyFetchError::Status {
                url: self.url.clone(),
                status: response.status().as_u16(),
            });
        }
        let max_age = jwks::max_age(
            response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
        );
        let body = response.bytes().await.map_err(http)?;
        let keys = jwks::parse_jwks(&body).map_err(|error| KeyFetchError::Document {
            url: self.url.clone(),
            error,
        })?;
        Ok(Cached {
            keys,
            expires: (max_age > Duration::ZERO).then(|| Instant::now() + max_age),
            unknown: HashSet::new(),
        })
    }
}
