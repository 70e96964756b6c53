//! Key pools: RSA keys cost tens of milliseconds each, so a pool is generated once
//! (deterministically from a seed, on every core) into a directory and loaded fast.
//!
//! Layout of a pool directory: `manifest.json` (`{"alg","spec","count","seed"}`) and, per key
//! `i`, `keys/{i:05}.pem` (PKCS#8 `PRIVATE KEY`), `keys/{i:05}.traditional.pem` (PKCS#1
//! `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`) and `keys/{i:05}.pub.pem` (SPKI `PUBLIC KEY`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use serde_json::{Value, json};

use crate::keys::{Alg, DeviceKey, KeyError, KeySpec};

/// Why a pool could not be generated or loaded.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `manifest.json` is not a pool manifest.
    #[error(
        "{path}: {problem} (expected {{\"alg\":\"RS256\"|\"ES256\",\"spec\":…,\"count\":N,\"seed\":N}} as written by `fleetgate keys generate`)"
    )]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A key could not be made or read (the error names the file).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A key file holds a key of another kind than the manifest says.
    #[error("{path}: holds a {found} key, the manifest says {expected}")]
    WrongKind {
        /// The key file.
        path: PathBuf,
        /// What it holds.
        found: KeySpec,
        /// What the manifest says.
        expected: KeySpec,
    },
}

/// A loaded pool.
#[derive(Debug)]
pub struct KeyPool {
    /// Kind and size of every key.
    pub spec: KeySpec,
    /// The seed it was generated from.
    pub seed: u64,
    /// The keys, in index order, parsed and ready to sign.
    pub keys: Vec<Arc<DeviceKey>>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PoolError + '_ {
    move |source| PoolError::Io {
        path: path.to_owned(),
        source,
    }
}

fn key_file(dir: &Path, index: usize, suffix: &str) -> PathBuf {
    dir.join("keys").join(format!("{index:05}{suffix}"))
}

/// The seed of key `index` of a pool: derived, so keys can be made in any order on any core.
fn key_seed(spec: KeySpec, seed: u64, index: usize) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(b"fleetgate-pool-v1");
    ctx.update(spec.to_string().as_bytes());
    ctx.update(&seed.to_le_bytes());
    ctx.update(&(index as u64).to_le_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn workers(count: usize) -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(count.max(1))
}

/// Generates `count` keys of `alg`'s default size (RSA-2048 or P-256) into `out`; see
/// [`generate_spec`].
pub fn generate(
    alg: Alg,
    count: usize,
    seed: u64,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), PoolError> {
    generate_spec(KeySpec::default_for(alg), count, seed, out, progress)
}

/// Generates `count` keys of `spec` into `out` on every core: the same seed always gives the same
/// keys. `progress(done, total)` is called on the calling thread after each key is written.
pub fn generate_spec(
    spec: KeySpec,
    count: usize,
    seed: u64,
    out: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(), PoolError> {
    let keys_dir = out.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(io(&keys_dir))?;
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, Result<DeviceKey, KeyError>)>();
        for _ in 0..workers(count) {
            let (tx, next) = (tx.clone(), &next);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        break;
                    }
                    if tx
                        .send((index, DeviceKey::from_seed(spec, &key_seed(spec, seed, index))))
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done = 0;
        for (index, key) in rx {
            if let Err(e) = key
                .map_err(PoolError::from)
                .and_then(|key| write_key(out, index, &key))
            {
                next.store(count, Ordering::Relaxed);
                return Err(e);
            }
            done += 1;
            progress(done, count);
        }
        Ok(())
    })?;
    let manifest =
        json!({"alg": spec.alg().as_str(), "spec": spec.to_string(), "count": count, "seed": seed});
    let path = out.join("manifest.json");
    std::fs::write(&path, format!("{manifest:#}\n")).map_err(io(&path))
}

fn write_key(out: &Path, index: usize, key: &DeviceKey) -> Result<(), PoolError> {
    let files = [
        (key_file(out, index, ".pem"), key.pkcs8_pem()),
        (key_file(out, index, ".traditional.pem"), key.traditional_pem()?),
        (key_file(out, index, ".pub.pem"), key.spki_pem()),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(())
}

fn read_manifest(dir: &Path) -> Result<(KeySpec, usize, u64), PoolError> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let bad = |problem: &str| PoolError::Manifest {
        path: path.clone(),
        problem: problem.to_owned(),
    };
    let manifest: Value = serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON: {e}")))?;
    let spec = match manifest["spec"].as_str() {
        Some("EC P-256") => KeySpec::P256,
        Some(s) => s
            .strip_prefix("RSA-")
            .and_then(|b| b.parse().ok())
            .map(KeySpec::Rsa)
            .ok_or_else(|| bad(&format!("unknown key spec `{s}`")))?,
        None => return Err(bad("no `spec`")),
    };
    let count = manifest["count"]
        .as_u64()
        .ok_or_else(|| bad("no integer `count`"))?;
    let seed = manifest["seed"]
        .as_u64()
        .ok_or_else(|| bad("no integer `seed`"))?;
    Ok((spec, count as usize, seed))
}

/// Loads the pool in `dir`, parsing keys on every core; every error names its file.
pub fn load(dir: &Path) -> Result<KeyPool, PoolError> {
    let (spec, count, seed) = read_manifest(dir)?;
    let chunk = count.div_ceil(workers(count)).max(1);
    let indices: Vec<usize> = (0..count).collect();
    let parsed: Vec<Result<Vec<Arc<DeviceKey>>, PoolError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = indices
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|&i| load_key(dir, i, spec)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(KeyError::Crypto("key loading thread failed").into()))
            })
            .collect()
    });
    let mut keys = Vec::with_capacity(count);
    for part in parsed {
        keys.extend(part?);
    }
    Ok(KeyPool { spec, seed, keys })
}

fn load_key(dir: &Path, index: usize, spec: KeySpec) -> Result<Arc<DeviceKey>, PoolError> {
    let path = key_file(dir, index, ".pem");
    let key = DeviceKey::load(&path)?;
    if key.spec() != spec {
        return Err(PoolError::WrongKind {
            path,
            found: key.spec(),
            expected: spec,
        });
    }
    Ok(Arc::new(key))
}
