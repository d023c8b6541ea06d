//! `OUT/manifest.json`: what a build published (schema version, config hash, every shard with
//! its rows, SHA-256 and scenes, every scene with its split and input fingerprint).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crossview_schemas::SCHEMA_VERSION;

use super::graph::SceneEntry;
use super::shards::ShardInfo;

/// The manifest file name.
pub const MANIFEST: &str = "manifest.json";

/// A build's manifest, written last (atomically), so a manifest means a complete output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Record schema version of the shards.
    pub schema_version: u32,
    /// The program that wrote it.
    pub created_by: String,
    /// Hash of every setting that shapes the output.
    pub config_hash: String,
    /// Config hash and every input file's stamp: a rerun with the same signature has
    /// nothing to do.
    #[serde(default)]
    pub input_signature: String,
    /// Generator name the samples carry.
    pub generator: String,
    /// Shards per split.
    pub shards_per_split: u32,
    /// Every shard, train then bench, in bucket order.
    pub shards: Vec<ShardInfo>,
    /// Every scene read, sorted by id.
    pub scenes: Vec<SceneEntry>,
    /// Frames stored under `frames/`.
    pub frames: u64,
}

impl Manifest {
    /// Reads `OUT/manifest.json`.
    pub fn read(out: &Path) -> anyhow::Result<Manifest> {
        let path = out.join(MANIFEST);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let m: Manifest =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if m.schema_version != SCHEMA_VERSION {
            anyhow::bail!(
                "{}: schema version {} (this crossview reads {SCHEMA_VERSION})",
                path.display(),
                m.schema_version
            );
        }
        Ok(m)
    }

    /// Publishes it atomically.
    pub fn write(&self, out: &Path) -> anyhow::Result<()> {
        crossview_schemas::write_atomic(
            out.join(MANIFEST),
            serde_json::to_string_pretty(self)?.as_bytes(),
        )?;
        Ok(())
    }
}
