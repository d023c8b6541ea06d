//! [`BuildConfig`]: the `crossview build` TOML (sources, reading options, output layout and the
//! corpus settings), with documented defaults; unknown keys are errors.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crossview_schemas::{DEFAULT_ZSTD_LEVEL, SourceKind};
use crossview_stages::corpus::CorpusConfig;
use crossview_stages::filter::FilterConfig;
use crossview_stages::geometry::GeometryConfig;
use crossview_stages::masks::MaskConfig;
use crossview_stages::qa::QaConfig;
use crossview_stages::rewrite::RewriteConfig;
use crossview_stages::sources::{MmpExtrinsics, SourceOptions};
use crossview_stages::split::SplitConfig;

/// Default shards per split.
pub const DEFAULT_SHARDS_PER_SPLIT: u32 = 8;

/// Default rows a shard's row group aims at: half the record writers' 16,384. A shard made
/// again decodes and encodes only the groups that hold changed rows and copies the others, so
/// smaller groups make a one-scene rebuild cheaper (a quarter less CPU on the paper world),
/// at 0.014% more bytes and no slower a cold build; 4,096 was no cheaper and slowed the cold
/// build by about 5%.
pub const DEFAULT_SHARD_ROW_GROUP_ROWS: usize = 8_192;

/// One input: a native tree or a folder of them, with its kind when detection should not guess.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SourceEntry {
    /// A path (tree or folder of trees), auto-detected.
    Path(PathBuf),
    /// A tree of a given kind.
    Table {
        /// The tree.
        path: PathBuf,
        /// Its source kind (`messytable`, `mmptrack`, `egohumans`, `egoexo4d`).
        kind: Option<SourceKind>,
    },
}

impl SourceEntry {
    /// The path, relative to `base` unless absolute.
    pub fn path(&self, base: &Path) -> PathBuf {
        let p = match self {
            SourceEntry::Path(p) => p,
            SourceEntry::Table { path, .. } => path,
        };
        base.join(p)
    }

    /// The forced kind, if any.
    pub fn kind(&self) -> Option<SourceKind> {
        match self {
            SourceEntry::Path(_) => None,
            SourceEntry::Table { kind, .. } => *kind,
        }
    }
}

/// Where and how shards are written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputConfig {
    /// Shards per split; a sample's shard is its scene's hash bucket.
    pub shards_per_split: u32,
    /// Rows a shard's Parquet row group aims at: groups hold whole scenes and end at one
    /// of half this many rows or more chosen by its id, or once they hold this many (see
    /// `shards::ends_row_group`).
    pub row_group_rows: usize,
    /// zstd level of the shards.
    pub zstd_level: i32,
    /// Copy every shown frame into `OUT/frames/` (content-addressed).
    pub frames: bool,
}

impl Default for OutputConfig {
    fn default() -> Self {
        OutputConfig {
            shards_per_split: DEFAULT_SHARDS_PER_SPLIT,
            row_group_rows: DEFAULT_SHARD_ROW_GROUP_ROWS,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            frames: true,
        }
    }
}

/// A build: inputs, reading options, output layout, and the corpus settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BuildConfig {
    /// Native trees or folders of trees (relative to the config file). Empty: the embedded
    /// default world (`world`).
    pub sources: Vec<SourceEntry>,
    /// Where the embedded default world is written when `sources` is empty.
    pub world: PathBuf,
    /// A referenced image that is missing is an input error (off for annotation-only trees).
    pub require_images: bool,
    /// Metres per unit of MessyTable extrinsic translations.
    pub messytable_translation_scale: f64,
    /// Read MMPTrack extrinsics as world-to-camera instead of the documented camera-to-world.
    pub mmptrack_world_to_camera: bool,
    /// Output layout.
    pub output: OutputConfig,
    /// Mask completion.
    pub masks: MaskConfig,
    /// 3D estimates and occlusion.
    pub geometry: GeometryConfig,
    /// Candidate instantiation.
    pub qa: QaConfig,
    /// Balance and quotas.
    pub filter: FilterConfig,
    /// Scene-disjoint split and bench size.
    pub split: SplitConfig,
    /// Open-ended subset.
    pub open_ended: RewriteConfig,
}

impl Default for BuildConfig {
    fn default() -> Self {
        let corpus = CorpusConfig::default();
        BuildConfig {
            sources: Vec::new(),
            world: PathBuf::from("out/synth"),
            require_images: true,
            messytable_translation_scale: 1.0,
            mmptrack_world_to_camera: false,
            output: OutputConfig::default(),
            masks: corpus.masks,
            geometry: corpus.geometry,
            qa: corpus.qa,
            filter: corpus.filter,
            split: corpus.split,
            open_ended: corpus.open_ended,
        }
    }
}

impl BuildConfig {
    /// Parses a config file; relative paths in it are taken from its folder.
    pub fn load(path: &Path) -> anyhow::Result<(BuildConfig, PathBuf)> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let mut cfg: BuildConfig =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        cfg.validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.masks.resolve_paths(&base);
        Ok((cfg, base))
    }

    /// Checks every part.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.corpus().validate()?;
        if self.output.shards_per_split == 0 || self.output.row_group_rows == 0 {
            anyhow::bail!("output: shards_per_split and row_group_rows must be >= 1");
        }
        if !(1..=22).contains(&self.output.zstd_level) {
            anyhow::bail!("output: zstd_level must be in 1..=22");
        }
        if !(self.messytable_translation_scale.is_finite()
            && self.messytable_translation_scale > 0.0)
        {
            anyhow::bail!("messytable_translation_scale must be a positive number");
        }
        Ok(())
    }

    /// The corpus settings.
    pub fn corpus(&self) -> CorpusConfig {
        CorpusConfig {
            masks: self.masks.clone(),
            geometry: self.geometry.clone(),
            qa: self.qa.clone(),
            filter: self.filter.clone(),
            split: self.split.clone(),
            open_ended: self.open_ended.clone(),
        }
    }

    /// The reading options.
    pub fn source_options(&self) -> SourceOptions {
        SourceOptions {
            require_images: self.require_images,
            messytable_translation_scale: self.messytable_translation_scale,
            mmptrack_extrinsics: if self.mmptrack_world_to_camera {
                MmpExtrinsics::WorldToCamera
            } else {
                MmpExtrinsics::CameraToWorld
            },
        }
    }

    /// A hash of everything that shapes the output (not where the inputs are).
    pub fn output_hash(&self) -> String {
        let shaping = (
            &self.output,
            self.corpus().hash(),
            self.require_images,
            self.messytable_translation_scale,
            self.mmptrack_world_to_camera,
        );
        crossview_schemas::ContentHasher::new("crossview.build_config")
            .str(&serde_json::to_string(&shaping).unwrap_or_default())
            .finish_hex(8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_as_paths_or_tables_and_unknown_keys_fail() {
        let cfg: BuildConfig = toml::from_str(
            r#"
            sources = ["trees", { path = "mt", kind = "messytable" }]
            [output]
            shards_per_split = 4
            [qa]
            seed = 3
            "#,
        )
        .unwrap();
        assert_eq!(cfg.sources.len(), 2);
        assert_eq!(cfg.sources[1].kind(), Some(SourceKind::MessyTable));
        assert_eq!(
            cfg.sources[0].path(Path::new("/c")),
            PathBuf::from("/c/trees")
        );
        assert_eq!(cfg.output.shards_per_split, 4);
        assert_eq!(cfg.qa.seed, 3);
        cfg.validate().unwrap();
        assert!(toml::from_str::<BuildConfig>("[output]\nshards = 4\n").is_err());
        assert!(toml::from_str::<BuildConfig>("bogus = 1\n").is_err());
    }
}
