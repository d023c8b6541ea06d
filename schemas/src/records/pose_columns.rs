//! The two columns a world-to-camera transform is stored in (`rotation` row-major
//! fixed_size_list<f64>[9], `translation` fixed_size_list<f64>[3], metres), shared by records.

use arrow_array::ArrayRef;
use arrow_schema::{DataType, Field};
use glam::DVec3;

use crate::arrow_io::{Columns, arr_f64, fixed_f64_row, fixed_list, fixed_of, nullable};
use crate::error::Result;
use crate::pose::{Rotation, WorldToCamera};

/// The nullable `rotation` and `translation` fields of a world-to-camera transform.
pub(crate) fn fields() -> [Field; 2] {
    [
        nullable("rotation", fixed_of(DataType::Float64, 9)),
        nullable("translation", fixed_of(DataType::Float64, 3)),
    ]
}

/// The two columns for a sequence of optional transforms.
pub(crate) fn arrays<'a>(
    poses: impl Iterator<Item = Option<&'a WorldToCamera>>,
) -> Result<[ArrayRef; 2]> {
    let (mut rot, mut trans, mut present) = (Vec::new(), Vec::new(), Vec::new());
    for p in poses {
        match p {
            Some(p) => {
                rot.extend(p.rotation.to_row_major());
                trans.extend(p.translation.to_array());
                present.push(true);
            }
            None => {
                rot.extend([0.0; 9]);
                trans.extend([0.0; 3]);
                present.push(false);
            }
        }
    }
    let [rf, tf] = fields();
    Ok([
        fixed_list(rf.data_type(), arr_f64(rot), &present)?,
        fixed_list(tf.data_type(), arr_f64(trans), &present)?,
    ])
}

/// Reads the transform of one row; both columns null means none.
pub(crate) fn read(c: &Columns<'_>, row: usize) -> Result<Option<WorldToCamera>> {
    let rot = fixed_f64_row(c.fixed("rotation")?, row);
    let trans = fixed_f64_row(c.fixed("translation")?, row);
    match (rot, trans) {
        (None, None) => Ok(None),
        (Some(r), Some(t)) if r.len() == 9 && t.len() == 3 => {
            let mut m = [0.0; 9];
            m.copy_from_slice(&r);
            let rotation = Rotation::from_row_major(m).map_err(|e| c.row_error(row, e))?;
            let pose = WorldToCamera::new(rotation, DVec3::new(t[0], t[1], t[2]))
                .map_err(|e| c.row_error(row, e))?;
            Ok(Some(pose))
        }
        _ => Err(c.row_error(
            row,
            "rotation and translation must be both present or both null",
        )),
    }
}
