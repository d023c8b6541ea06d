//! The paper's JSONL sample format (formats/crossview_suite.md 3): [`to_suite_json`] writes a
//! sample the way the paper's loader reads it, [`from_suite_json`] inverts it exactly.

use serde_json::{Value, json};

use crossview_schemas::{
    BoxXyxy, CocoRle, MaskSource, MaskSourceKind, QaSample, Region, SourceKind, Split, Task,
    ViewRef,
};

use crate::{Error, Result};

/// Option letters, as the loader's `^([A-Z])\.\s*(.*)$` reads them.
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A sample as one JSON object of the paper's format. Each view lists the objects its
/// regions show (one entry per distinct region) and `region_refs` points at them; everything
/// else a shard holds rides in `metadata` and extra keys the loader ignores.
pub fn to_suite_json(s: &QaSample) -> Value {
    // Per view, the distinct regions in order of first use.
    let mut objects: Vec<Vec<&Region>> = vec![Vec::new(); s.views.len()];
    let mut refs = Vec::with_capacity(s.regions.len());
    for r in &s.regions {
        let v = r.view_index as usize;
        let Some(list) = objects.get_mut(v) else {
            continue;
        };
        let k = match list.iter().position(|o| *o == r) {
            Some(k) => k,
            None => {
                list.push(r);
                list.len() - 1
            }
        };
        refs.push(json!([v, k]));
    }
    let views: Vec<Value> = s
        .views
        .iter()
        .zip(&objects)
        .map(|(v, objs)| {
            json!({
                "view_id": v.view_id,
                "image_path": v.image,
                "frame_id": frame_value(&v.frame_id),
                "width": v.width,
                "height": v.height,
                "objects": objs.iter().map(|r| json!({
                    "track_id": r.instance_id,
                    "category": r.category,
                    "bbox_xyxy": r.bbox.to_array(),
                    "mask_rle": {"size": [r.mask.height(), r.mask.width()], "counts": r.mask.counts()},
                    "mask_source": r.mask_source.kind.name(),
                    "mask_model": r.mask_source.model,
                    "mask_score": r.mask_source.score,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut names: Vec<&str> = Vec::new();
    for r in &s.regions {
        if !names.contains(&r.instance_id.as_str()) {
            names.push(&r.instance_id);
        }
    }
    let options: Vec<String> = s
        .options
        .iter()
        .enumerate()
        .map(|(k, o)| format!("{}. {o}", char::from(LETTERS[k % LETTERS.len()])))
        .collect();
    let answer = if s.open_ended || s.answer_index < 0 {
        s.answer.clone()
    } else {
        char::from(LETTERS[s.answer_index as usize % LETTERS.len()]).to_string()
    };
    let first = s.regions.first();
    json!({
        "sample_id": s.sample_id,
        "dataset": s.source.name(),
        "scene": s.scene_id,
        "question_type": s.task.name(),
        "question": s.question,
        "options": options,
        "answer": answer,
        "views": views,
        "region_refs": refs,
        "selected_object_names": names,
        "object_ids": names.iter().map(|n| format!("{}:{n}", s.scene_id)).collect::<Vec<_>>(),
        // The paper's trainer skips its contrastive loss for Q2 and Q9.
        "compute_infonce": !matches!(s.task, Task::Q2 | Task::Q9) && !s.regions.is_empty(),
        "metadata": {
            "split": s.split.name(),
            "task_category": s.task.category().name(),
            "open_ended": s.open_ended,
            "answer_index": s.answer_index,
            "answer_text": s.answer,
            "template_id": s.template_id,
            "generator": s.generator,
            "object_name": first.map(|r| r.instance_id.as_str()),
            "object_category": first.map(|r| r.category.as_str()),
        },
    })
}

/// A frame id as the loader wants it (an integer) when it is one, else as text.
fn frame_value(f: &str) -> Value {
    match f.parse::<u64>() {
        Ok(n) if n.to_string() == f => json!(n),
        _ => json!(f),
    }
}

fn bad(what: impl Into<String>) -> Error {
    Error::Options(format!("suite JSONL: {}", what.into()))
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{key} must be a string")))
}

fn uint(v: &Value, key: &str) -> Result<u64> {
    v.get(key)
        .and_then(Value::as_u64)
        .ok_or_else(|| bad(format!("{key} must be a non-negative integer")))
}

/// Reads back a sample written by [`to_suite_json`].
pub fn from_suite_json(v: &Value) -> Result<QaSample> {
    let meta = v.get("metadata").ok_or_else(|| bad("no metadata"))?;
    let empty = Vec::new();
    let views_json = v
        .get("views")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("views must be a list"))?;
    let mut views = Vec::with_capacity(views_json.len());
    let mut objects: Vec<Vec<Region>> = Vec::with_capacity(views_json.len());
    for (vi, vj) in views_json.iter().enumerate() {
        let frame_id = match vj.get("frame_id") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => return Err(bad("frame_id must be an integer or a string")),
        };
        views.push(ViewRef {
            view_id: text(vj, "view_id")?.to_string(),
            frame_id,
            image: text(vj, "image_path")?.to_string(),
            width: u32::try_from(uint(vj, "width")?).map_err(|_| bad("width too large"))?,
            height: u32::try_from(uint(vj, "height")?).map_err(|_| bad("height too large"))?,
        });
        let objs = vj
            .get("objects")
            .and_then(Value::as_array)
            .unwrap_or(&empty);
        let mut list = Vec::with_capacity(objs.len());
        for o in objs {
            let b: Vec<f32> = o
                .get("bbox_xyxy")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_f64)
                        .map(|x| x as f32)
                        .collect()
                })
                .unwrap_or_default();
            if b.len() != 4 {
                return Err(bad("bbox_xyxy must hold 4 numbers"));
            }
            let m = o
                .get("mask_rle")
                .ok_or_else(|| bad("object without mask_rle"))?;
            let size: Vec<u64> = m
                .get("size")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            let [h, w] = size[..] else {
                return Err(bad("mask_rle.size must be [h, w]"));
            };
            let (h, w) = (
                u32::try_from(h).map_err(|_| bad("mask height"))?,
                u32::try_from(w).map_err(|_| bad("mask width"))?,
            );
            list.push(Region {
                view_index: vi as u32,
                instance_id: text(o, "track_id")?.to_string(),
                category: text(o, "category")?.to_string(),
                bbox: BoxXyxy::try_new(b[0], b[1], b[2], b[3])?,
                mask: CocoRle::parse(text(m, "counts")?, h, w)?,
                mask_source: MaskSource {
                    kind: MaskSourceKind::from_name(text(o, "mask_source")?)?,
                    model: o
                        .get("mask_model")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    score: o
                        .get("mask_score")
                        .and_then(Value::as_f64)
                        .map(|x| x as f32),
                },
            });
        }
        objects.push(list);
    }
    let regions = v
        .get("region_refs")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("region_refs must be a list"))?
        .iter()
        .map(|r| {
            let pair: Vec<usize> = r
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_u64)
                        .map(|x| x as usize)
                        .collect()
                })
                .unwrap_or_default();
            let [vi, k] = pair[..] else {
                return Err(bad("a region ref must be [view, object]"));
            };
            objects
                .get(vi)
                .and_then(|l| l.get(k))
                .cloned()
                .ok_or_else(|| bad(format!("region ref [{vi}, {k}] points at no object")))
        })
        .collect::<Result<Vec<_>>>()?;
    let options = v
        .get("options")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("options must be a list"))?
        .iter()
        .map(|o| {
            let o = o.as_str().ok_or_else(|| bad("options must be strings"))?;
            // "A. text" -> "text"
            o.get(3..)
                .filter(|_| o.as_bytes().get(1..3) == Some(b". "))
                .map(str::to_string)
                .ok_or_else(|| bad(format!("option {o:?} is not lettered")))
        })
        .collect::<Result<Vec<_>>>()?;
    let answer_index = meta
        .get("answer_index")
        .and_then(Value::as_i64)
        .and_then(|x| i32::try_from(x).ok())
        .ok_or_else(|| bad("metadata.answer_index must be an integer"))?;
    Ok(QaSample {
        sample_id: text(v, "sample_id")?.to_string(),
        task: Task::from_name(text(v, "question_type")?)?,
        source: SourceKind::from_name(text(v, "dataset")?)?,
        scene_id: text(v, "scene")?.to_string(),
        split: Split::from_name(text(meta, "split")?)?,
        question: text(v, "question")?.to_string(),
        options,
        answer_index,
        answer: text(meta, "answer_text")?.to_string(),
        open_ended: meta
            .get("open_ended")
            .and_then(Value::as_bool)
            .ok_or_else(|| bad("metadata.open_ended must be a boolean"))?,
        views,
        regions,
        template_id: text(meta, "template_id")?.to_string(),
        generator: text(meta, "generator")?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qa::tasks::test_scene::{TestScene, draw};
    use crate::qa::{GENERATOR, NoFrameImages, materialize};
    use crate::rewrite::rewrite;

    #[test]
    fn every_task_round_trips_exactly_closed_and_open() {
        let mut t = TestScene::new();
        t.camera("a", [0.0, -3.0, 1.5]);
        t.camera("b", [3.0, 0.0, 1.5]);
        for k in 0..6 {
            let cat = ["mug", "box", "can", "bowl", "cup", "jar"][k];
            t.cube(
                &format!("o{k}"),
                cat,
                0,
                [-0.6 + 0.25 * k as f64, 0.15 * k as f64, 1.0],
                0.2,
            );
            t.cube(
                &format!("o{k}"),
                cat,
                1,
                [-0.6 + 0.3 * k as f64, 0.15 * k as f64, 1.0],
                0.2,
            );
        }
        let mut seen = 0;
        for &task in Task::ALL {
            let d = draw(&t, task);
            let ix = d.index();
            for c in d.cands.iter().take(5) {
                let closed = materialize(&ix, c, Split::Bench, GENERATOR, &NoFrameImages).unwrap();
                let j = to_suite_json(&closed);
                assert_eq!(from_suite_json(&j).unwrap(), closed);
                // The letter answer names the right option.
                let letter = j["answer"].as_str().unwrap();
                let opt = j["options"][closed.answer_index as usize].as_str().unwrap();
                assert!(opt.starts_with(&format!("{letter}. ")));
                let refs = j["region_refs"].as_array().unwrap();
                assert_eq!(refs.len(), closed.question.matches("<region>").count());
                if let Some(open) = rewrite(&ix, c, &closed.as_sample_ref()).map(|s| s.to_sample())
                {
                    let j = to_suite_json(&open);
                    assert_eq!(j["answer"], open.answer.as_str());
                    assert_eq!(from_suite_json(&j).unwrap(), open);
                }
                seen += 1;
            }
        }
        assert!(seen > 40, "{seen}");
        assert!(from_suite_json(&json!({"metadata": {}})).is_err());
    }
}
