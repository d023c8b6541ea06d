//! Property tests: every canonical record survives record -> RecordBatch -> Parquet -> record
//! unchanged, and files carry the metadata contract.

use crossview_schemas::glam::DVec3;
use crossview_schemas::*;
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_/.-]{0,16}",
        "\\PC{0,8}", // any printable Unicode
    ]
}

fn rle() -> impl Strategy<Value = Rle> {
    (1u32..24, 1u32..24, 0.0f64..1.0, any::<u64>()).prop_map(|(h, w, density, seed)| {
        // A deterministic pseudo-random bitmap from the seed.
        let mut x = seed | 1;
        let bitmap: Vec<u8> = (0..h * w)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                u8::from((x % 1000) as f64 / 1000.0 < density)
            })
            .collect();
        Rle::encode_row_major(&bitmap, h, w).expect("sizes match")
    })
}

fn bbox() -> impl Strategy<Value = BoxXyxy> {
    (-200f32..2000.0, -200f32..2000.0, 0f32..800.0, 0f32..800.0)
        .prop_map(|(x, y, w, h)| BoxXyxy::try_new(x, y, x + w, y + h).expect("ordered"))
}

fn pose() -> impl Strategy<Value = WorldToCamera> {
    (
        -3.2f64..3.2,
        -1.5f64..1.5,
        -3.2f64..3.2,
        -10f64..10.0,
        -10f64..10.0,
        -10f64..10.0,
    )
        .prop_map(|(a, b, c, x, y, z)| {
            let r = Rotation::from_euler_xyz_extrinsic(a, b, c).expect("finite");
            WorldToCamera::new(r, DVec3::new(x, y, z)).expect("finite")
        })
}

fn distortion() -> impl Strategy<Value = Distortion> {
    prop_oneof![
        Just(Distortion::Pinhole),
        prop::array::uniform5(-0.5f64..0.5)
            .prop_map(|coeffs| Distortion::RadialTangential { coeffs }),
        prop::array::uniform4(-0.1f64..0.1).prop_map(|coeffs| Distortion::KannalaBrandt { coeffs }),
        (
            prop::array::uniform6(-1f64..1.0),
            prop::array::uniform2(-0.001f64..0.001),
            prop::array::uniform4(-0.001f64..0.001)
        )
            .prop_map(|(radial, tangential, thin_prism)| {
                Distortion::FisheyeRadTanThinPrism {
                    radial,
                    tangential,
                    thin_prism,
                }
            }),
    ]
}

fn mask_source() -> impl Strategy<Value = MaskSource> {
    prop_oneof![
        Just(MaskSource::annotated()),
        Just(MaskSource::box_fallback()),
        Just(MaskSource::keypoint_hull()),
        ("[a-f0-9]{8}", 0f32..1.0).prop_map(|(m, s)| MaskSource::segmenter(m, s)),
    ]
}

fn scene() -> impl Strategy<Value = Scene> {
    (text(), prop::sample::select(SourceKind::ALL), text()).prop_map(|(id, source, split)| Scene {
        scene_id: id,
        source,
        source_split: split,
    })
}

fn camera() -> impl Strategy<Value = Camera> {
    (
        (text(), text(), prop::sample::select(CameraKind::ALL)),
        (
            1u32..4000,
            1u32..4000,
            1f64..3000.0,
            1f64..3000.0,
            -10f64..4000.0,
            -10f64..4000.0,
        ),
        distortion(),
        any::<bool>(),
        prop::option::of(pose()),
    )
        .prop_map(
            |((scene_id, camera_id, kind), (w, h, fx, fy, cx, cy), d, rot, pose)| {
                let sr = if rot {
                    SensorRotation::Cw90
                } else {
                    SensorRotation::None
                };
                Camera {
                    scene_id,
                    camera_id,
                    kind,
                    model: CameraModel::new(w, h, fx, fy, cx, cy, d, sr).expect("valid"),
                    world_to_camera: pose,
                }
            },
        )
}

fn frame() -> impl Strategy<Value = Frame> {
    let image = prop_oneof![
        Just(ImageRef::None),
        text().prop_map(ImageRef::File),
        (text(), any::<u32>()).prop_map(|(path, frame)| ImageRef::VideoFrame { path, frame }),
    ];
    (
        text(),
        text(),
        any::<u32>(),
        0f64..1e5,
        image,
        prop::option::of(pose()),
    )
        .prop_map(
            |(scene_id, camera_id, frame_index, timestamp_s, image, world_to_camera)| Frame {
                scene_id,
                camera_id,
                frame_index,
                timestamp_s,
                image,
                world_to_camera,
            },
        )
}

fn vec3() -> impl Strategy<Value = DVec3> {
    prop::array::uniform3(-100f64..100.0).prop_map(DVec3::from_array)
}

fn observation() -> impl Strategy<Value = Observation> {
    let kp = (0f32..2000.0, 0f32..2000.0, 0u8..3).prop_map(|(x, y, visibility)| Keypoint {
        x,
        y,
        visibility,
    });
    (
        (
            text(),
            text(),
            any::<u32>(),
            text(),
            text(),
            prop::option::of(text()),
        ),
        prop::option::of(bbox()),
        prop::option::of(
            (rle(), mask_source()).prop_map(|(rle, source)| ObservedMask { rle, source }),
        ),
        prop::collection::vec(kp, 0..18),
        prop::option::of(vec3()),
        prop::option::of(vec3()),
    )
        .prop_map(
            |(
                (scene_id, camera_id, frame_index, instance_id, category, subcategory),
                bbox,
                mask,
                keypoints,
                p,
                e,
            )| Observation {
                scene_id,
                camera_id,
                frame_index,
                instance_id,
                category,
                subcategory,
                bbox,
                mask,
                keypoints,
                world_position: p,
                world_extent: e,
            },
        )
}

fn qa_sample() -> impl Strategy<Value = QaSample> {
    let view = (text(), text(), text(), 1u32..4000, 1u32..4000).prop_map(
        |(view_id, frame_id, image, width, height)| ViewRef {
            view_id,
            frame_id,
            image,
            width,
            height,
        },
    );
    let region = (0u32..4, text(), text(), bbox(), rle(), mask_source()).prop_map(
        |(view_index, instance_id, category, bbox, mask, mask_source)| Region {
            view_index,
            instance_id,
            category,
            bbox,
            mask: CocoRle::from(&mask),
            mask_source,
        },
    );
    (
        (
            prop::sample::select(Task::ALL),
            prop::sample::select(SourceKind::ALL),
            text(),
        ),
        (
            prop::sample::select(Split::ALL),
            text(),
            prop::collection::vec(text(), 0..5),
        ),
        (-1i32..4, text(), any::<bool>()),
        prop::collection::vec(view, 0..4),
        prop::collection::vec(region, 0..6),
        (text(), text()),
    )
        .prop_map(
            |(
                (task, source, scene_id),
                (split, question, options),
                (ai, answer, oe),
                views,
                regions,
                (t, g),
            )| {
                let mut s = QaSample {
                    sample_id: String::new(),
                    task,
                    source,
                    scene_id,
                    split,
                    question,
                    options,
                    answer_index: ai,
                    answer,
                    open_ended: oe,
                    views,
                    regions,
                    template_id: t,
                    generator: g,
                };
                s.sample_id = s.content_id();
                s
            },
        )
}

/// Writes `rows` in small row groups, reads them back, and checks both the values and the
/// metadata contract.
fn parquet_round_trip<T: ArrowRecord + PartialEq + std::fmt::Debug + Clone + Sync>(rows: &[T]) {
    let batch = T::to_batch(rows).expect("to_batch");
    assert_eq!(batch.schema(), T::schema());
    assert_eq!(&T::from_batch(&batch).expect("from_batch"), rows);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t.parquet");
    let opts = WriteOptions {
        row_group_rows: 3,
        zstd_level: 1,
        config_hash: "cafe".into(),
        parallel_columns: false,
    };
    let mut w = RecordWriter::<T>::create(&path, &opts).expect("create");
    for chunk in rows.chunks(2) {
        w.write(chunk).expect("write");
    }
    assert_eq!(w.finish().expect("finish"), rows.len() as u64);
    let reader = RecordReader::<T>::open(&path).expect("open");
    assert_eq!(reader.config_hash().as_deref(), Some("cafe"));
    assert_eq!(reader.num_rows(), rows.len() as u64);
    assert_eq!(reader.num_row_groups(), rows.len().div_ceil(3));
    // Row groups read at once from several threads, last first, are those read in turn.
    let groups: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..reader.num_row_groups())
            .rev()
            .map(|g| {
                let reader = &reader;
                scope.spawn(move || {
                    let reads: Vec<_> = (0..4)
                        .map(|_| reader.row_group(g).expect("group"))
                        .collect();
                    assert!(
                        reads.windows(2).all(|w| w[0] == w[1]),
                        "group {g} read alike"
                    );
                    reads.into_iter().next()
                })
            })
            .collect();
        handles
            .into_iter()
            .rev()
            .map(|h| h.join().expect("reader thread"))
            .collect()
    });
    let from_groups: Vec<T> = groups
        .iter()
        .flat_map(|b| T::from_batch(b.as_ref().expect("a group")).expect("from_batch"))
        .collect();
    assert_eq!(from_groups, rows);
    let back: Vec<T> = reader.flat_map(|r| r.expect("row group")).collect();
    assert_eq!(back, rows);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn scenes_round_trip(rows in prop::collection::vec(scene(), 0..8)) { parquet_round_trip(&rows); }

    #[test]
    fn cameras_round_trip(rows in prop::collection::vec(camera(), 0..8)) { parquet_round_trip(&rows); }

    #[test]
    fn frames_round_trip(rows in prop::collection::vec(frame(), 0..8)) { parquet_round_trip(&rows); }

    #[test]
    fn observations_round_trip(rows in prop::collection::vec(observation(), 0..8)) { parquet_round_trip(&rows); }

    /// Columns encoded in parallel or in turn, row groups cut inside batches: the bytes of
    /// parquet's own `ArrowWriter` fed the same batches with the same properties.
    #[test]
    fn the_record_writer_writes_the_bytes_of_parquets_arrow_writer(
        rows in prop::collection::vec(qa_sample(), 0..24),
        row_group_rows in 1usize..8,
        batch_rows in 1usize..10,
        parallel_columns in proptest::bool::ANY,
    ) {
        let opts = WriteOptions { row_group_rows, zstd_level: 1, config_hash: "c".into(), parallel_columns };
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.parquet");
        let mut ours = RecordWriter::<QaSample>::create(&path, &opts).expect("create");
        let props = writer_properties::<QaSample>(&opts).expect("properties");
        let mut theirs =
            parquet::arrow::ArrowWriter::try_new(Vec::new(), QaSample::schema(), Some(props))
                .expect("arrow writer");
        for chunk in rows.chunks(batch_rows) {
            let batch = QaSample::to_batch(chunk).expect("batch");
            ours.write_batch(&batch).expect("write");
            theirs.write(&batch).expect("write");
        }
        ours.finish().expect("finish");
        let expected = theirs.into_inner().expect("close");
        prop_assert_eq!(std::fs::read(&path).expect("written"), expected);
    }

    /// Row groups copied from another file as they are, among row groups written from rows:
    /// the bytes of writing every group's rows.
    #[test]
    fn copied_row_groups_are_the_bytes_of_writing_their_rows(
        old in prop::collection::vec(qa_sample(), 1..16),
        fresh in prop::collection::vec(qa_sample(), 16),
        replaced in prop::collection::vec(proptest::bool::ANY, 16),
        row_group_rows in 1usize..6,
        parallel_columns in proptest::bool::ANY,
    ) {
        let opts = WriteOptions { row_group_rows, zstd_level: 1, config_hash: "c".into(), parallel_columns };
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, groups: &mut dyn FnMut(&mut RecordWriter<QaSample>)| {
            let path = dir.path().join(name);
            let mut w = RecordWriter::<QaSample>::create(&path, &opts).expect("create");
            groups(&mut w);
            w.finish().expect("finish");
            path
        };
        let batch = |rows: &[QaSample]| QaSample::to_batch(rows).expect("batch");
        let old_groups: Vec<&[QaSample]> = old.chunks(row_group_rows).collect();
        let new_groups: Vec<&[QaSample]> = old_groups
            .iter()
            .enumerate()
            .map(|(g, rows)| {
                let at = g * row_group_rows;
                if replaced[g] { &fresh[at..at + rows.len()] } else { *rows }
            })
            .collect();
        let old_path = write("old.parquet", &mut |w| {
            for rows in &old_groups {
                w.write_batch(&batch(rows)).expect("write");
            }
        });
        let expected = write("expected.parquet", &mut |w| {
            for rows in &new_groups {
                w.write_batch(&batch(rows)).expect("write");
            }
        });
        let source = RecordReader::<QaSample>::open_for_copy(&old_path).expect("open");
        let spliced = write("spliced.parquet", &mut |w| {
            for (g, rows) in new_groups.iter().enumerate() {
                if replaced[g] {
                    w.write_batch(&batch(rows)).expect("write");
                } else {
                    w.append_row_group(&source, g).expect("copied");
                }
            }
        });
        let spliced = std::fs::read(spliced).expect("spliced");
        prop_assert!(spliced == std::fs::read(expected).expect("expected"));
        // And the spliced file reads back as the new rows.
        let back = RecordReader::<QaSample>::read_all(dir.path().join("spliced.parquet")).expect("read");
        prop_assert_eq!(back, new_groups.concat());
    }

    #[test]
    fn qa_samples_round_trip(rows in prop::collection::vec(qa_sample(), 0..8)) { parquet_round_trip(&rows); }

    /// Borrowed samples: the owned form comes back whole with the same id, and columns
    /// taken as several batches start empty after each.
    #[test]
    fn borrowed_samples_fill_columns_batch_by_batch(
        rows in prop::collection::vec(qa_sample(), 0..8),
        cut in 0usize..8,
    ) {
        let cut = cut.min(rows.len());
        for s in &rows {
            let mut r = s.as_sample_ref();
            prop_assert_eq!(&r.to_sample(), s);
            // A digest made beforehand gives the id made from the masks themselves, and it
            // is what the id reads: a stale one changes the id.
            for g in &mut r.regions {
                g.mask_digest = Some(mask_digest(g.mask));
            }
            prop_assert_eq!(r.content_id(), s.sample_id.clone());
            if let Some(g) = r.regions.first_mut() {
                g.mask_digest = g.mask_digest.map(|d| d ^ 1);
                prop_assert_ne!(r.content_id(), s.sample_id.clone());
            }
        }
        let mut columns = SampleColumns::new();
        for part in [&rows[..cut], &rows[cut..]] {
            for s in part {
                columns.push(&s.as_sample_ref());
            }
            prop_assert_eq!(columns.len(), part.len());
            let batch = columns.finish().expect("finish");
            prop_assert!(columns.is_empty());
            prop_assert_eq!(&QaSample::from_batch(&batch).expect("from_batch"), part);
        }
    }

    #[test]
    fn input_errors_round_trip(rows in prop::collection::vec(
        (text(), text(), text(), prop::sample::select(ErrorClass::ALL), text(), prop::option::of(text()))
            .prop_map(|(source, file, location, class, reason, scene_id)| InputError { source, file, location, class, reason, scene_id }),
        0..8)) { parquet_round_trip(&rows); }

    #[test]
    fn absences_round_trip(rows in prop::collection::vec(
        (text(), text(), any::<u32>(), text()).prop_map(|(scene_id, camera_id, frame_index, instance_id)|
            Absence { scene_id, camera_id, frame_index, instance_id }),
        0..8)) { parquet_round_trip(&rows); }

    #[test]
    fn truth_instances_round_trip(rows in prop::collection::vec(
        (text(), text(), text(), text(), any::<u32>(), any::<u32>(), any::<bool>())
            .prop_map(|(scene_id, instance_id, category, model, coarse_class, fine_class, is_person)|
                TruthInstance { scene_id, instance_id, category, model, coarse_class, fine_class, is_person }),
        0..8)) { parquet_round_trip(&rows); }

    #[test]
    fn truth_states_round_trip(rows in prop::collection::vec(
        (text(), any::<u32>(), text(), vec3(), vec3(), prop::array::uniform4(-1f64..1.0), prop::collection::vec(vec3(), 0..17))
            .prop_map(|(scene_id, frame_index, instance_id, position, extent, rotation_xyzw, keypoints)|
                TruthState { scene_id, frame_index, instance_id, position, extent, rotation_xyzw, keypoints }),
        0..8)) { parquet_round_trip(&rows); }

    #[test]
    fn truth_observations_round_trip(rows in prop::collection::vec(
        ((text(), text(), any::<u32>(), text(), any::<bool>()), prop::option::of(bbox()), prop::option::of(rle()),
         (any::<u64>(), any::<u64>(), any::<u64>(), 0f32..1.0, -5f64..50.0), prop::option::of((vec3(), 0f32..2000.0, 0f32..2000.0)))
            .prop_map(|((scene_id, camera_id, frame_index, instance_id, annotated), bbox, mask, (ma, aa, au, vf, depth), probe)| {
                let modal = mask.as_ref().map(CocoRle::from);
                TruthObservation {
                    scene_id, camera_id, frame_index, instance_id, annotated, bbox,
                    amodal: modal.clone(), modal,
                    modal_area: ma, amodal_area: aa, amodal_area_unclipped: au, visible_fraction: vf, depth,
                    probe_world: probe.map(|p| p.0), probe_pixel: probe.map(|p| [p.1, p.2]),
                }
            }),
        0..8)) { parquet_round_trip(&rows); }

    #[test]
    fn rle_strings_round_trip(m in rle()) {
        let s = m.to_coco_string();
        prop_assert_eq!(Rle::from_coco_string(&s, m.height(), m.width()).expect("decodes"), m.clone());
        prop_assert_eq!(Rle::from_lz_encoded(&m.to_lz_encoded(), m.height(), m.width()).expect("decodes"), m.clone());
        prop_assert_eq!(Rle::encode_row_major(&m.decode_row_major(), m.height(), m.width()).expect("sizes"), m);
    }
}

#[test]
fn reader_rejects_files_of_another_record_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenes.parquet");
    let mut w = RecordWriter::<Scene>::create(&path, &WriteOptions::default()).expect("create");
    w.write(&[Scene {
        scene_id: "a".into(),
        source: SourceKind::MmpTrack,
        source_split: "train".into(),
    }])
    .expect("write");
    w.finish().expect("finish");
    let err = RecordReader::<QaSample>::open(&path)
        .err()
        .expect("must fail");
    let msg = err.to_string();
    assert!(
        msg.contains("scenes.parquet") && msg.contains("qa_sample"),
        "{msg}"
    );
}

#[test]
fn unique_and_unstatistical_columns_name_real_parquet_leaves_written_without_statistics() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use proptest::strategy::ValueTree;
    fn check<T: ArrowRecord>(rows: &[T]) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.parquet");
        let mut w = RecordWriter::<T>::create(&path, &WriteOptions::default()).expect("create");
        w.write(rows).expect("write");
        w.finish().expect("finish");
        let reader =
            SerializedFileReader::new(std::fs::File::open(&path).expect("open")).expect("parquet");
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        let leaves: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
        let bare: Vec<String> = T::unique_columns()
            .iter()
            .chain(T::unstatistical_columns())
            .map(|p| p.join("."))
            .collect();
        for path in &bare {
            assert!(leaves.contains(path), "{path:?} not among {leaves:?}");
        }
        let group = reader.metadata().row_group(0);
        let mut with_statistics = 0;
        for (leaf, chunk) in leaves.iter().zip(group.columns()) {
            if bare.contains(leaf) {
                assert!(chunk.statistics().is_none(), "{leaf} has statistics");
            } else if chunk.statistics().is_some() {
                with_statistics += 1;
            }
        }
        assert!(with_statistics > 0, "no column kept its statistics");
    }
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let qa = qa_sample().new_tree(&mut runner).expect("tree").current();
    check(&[qa]);
    let obs = observation().new_tree(&mut runner).expect("tree").current();
    check(&[obs]);
}

/// A row group is copied only between row groups: not into one being written.
#[test]
fn a_row_group_is_not_copied_into_one_being_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = WriteOptions {
        row_group_rows: 4,
        ..WriteOptions::default()
    };
    let scenes: Vec<Scene> = (0..4)
        .map(|i| Scene {
            scene_id: format!("messytable/s{i}"),
            source: SourceKind::MessyTable,
            source_split: "train".into(),
        })
        .collect();
    let old = dir.path().join("old.parquet");
    let mut w = RecordWriter::<Scene>::create(&old, &opts).expect("create");
    w.write(&scenes).expect("write");
    w.finish().expect("finish");
    let source = RecordReader::<Scene>::open_for_copy(&old).expect("open");
    let mut w =
        RecordWriter::<Scene>::create(dir.path().join("new.parquet"), &opts).expect("create");
    w.write(&scenes[..1]).expect("write");
    assert!(w.append_row_group(&source, 0).is_err());
    assert!(w.append_row_group(&source, 1).is_err(), "no such group");
}

/// Row groups of a file of some size (incompressible text, about 1 MB a group) read from
/// several threads at once, each in its own order, are those read in turn: a reader whose
/// threads shared one file offset would read each other's bytes here.
#[test]
fn row_groups_read_at_once_from_many_threads_are_those_read_in_turn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenes.parquet");
    let opts = WriteOptions {
        row_group_rows: 64,
        ..WriteOptions::default()
    };
    // A xorshift stream of letters: zstd cannot shrink it.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut letters = |n: usize| -> String {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect()
    };
    let rows: Vec<Scene> = (0..16 * 64)
        .map(|i| Scene {
            scene_id: format!("messytable/{i}-{}", letters(16_000)),
            source: SourceKind::MessyTable,
            source_split: letters(8),
        })
        .collect();
    let mut w = RecordWriter::<Scene>::create(&path, &opts).expect("create");
    w.write(&rows).expect("write");
    w.finish().expect("finish");
    let reader = RecordReader::<Scene>::open(&path).expect("open");
    let groups = reader.num_row_groups();
    assert_eq!(groups, 16);
    let in_turn: Vec<_> = (0..groups)
        .map(|g| reader.row_group(g).expect("group"))
        .collect();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (reader, in_turn) = (&reader, &in_turn);
            scope.spawn(move || {
                for round in 0..4 {
                    for k in 0..groups {
                        let g = (k * (2 * t + 1) + round * 5) % groups;
                        let group = reader.row_group(g).expect("group read at once");
                        assert!(group == in_turn[g], "thread {t}: group {g} differs");
                    }
                }
            });
        }
    });
}
