//! Motion-JPEG in an MP4 (ISO base media) container: how synthetic Ego-Exo4D takes store their
//! frame-aligned videos (one JPEG per sample, constant frame rate).
//!
//! Written by hand: the Rust MP4 crates write only H.264/HEVC/VP9/AAC tracks, and encoding
//! H.264 would need a C library. The box layout is the minimal one ISO/IEC 14496-12 allows
//! (ftyp, mdat, moov with one video track whose samples all sit in one chunk); ffmpeg reads
//! the `jpeg` sample entry as MJPEG.

use crate::error::{Error, Result};

/// A box: 32-bit size, type, body.
fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend(((body.len() + 8) as u32).to_be_bytes());
    out.extend(kind);
    out.extend(body);
    out
}

/// A full box: a box whose body starts with version and flags.
fn full(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 4);
    b.extend(((u32::from(version) << 24) | (flags & 0x00ff_ffff)).to_be_bytes());
    b.extend(body);
    boxed(kind, &b)
}

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn u32s(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

/// The identity transform of tkhd/mvhd in 16.16 / 2.30 fixed point.
const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// An MP4 holding `frames` (each a complete JPEG) at `fps` frames per second.
pub fn mjpeg_mp4(frames: &[Vec<u8>], width: u32, height: u32, fps: u32) -> Result<Vec<u8>> {
    let (Ok(w16), Ok(h16)) = (u16::try_from(width), u16::try_from(height)) else {
        return Err(Error::Options(format!(
            "{width}x{height} is too large for an MP4 sample entry"
        )));
    };
    if fps == 0 {
        return Err(Error::Options("frame rate must be positive".into()));
    }
    let n = frames.len() as u32;
    let ftyp = boxed(
        b"ftyp",
        &[
            b"isom".as_slice(),
            &512u32.to_be_bytes(),
            b"isom",
            b"iso2",
            b"mp41",
        ]
        .concat(),
    );
    let payload: usize = frames.iter().map(Vec::len).sum();
    if ftyp.len() + 8 + payload > u32::MAX as usize {
        return Err(Error::Options("video larger than 4 GiB".into()));
    }
    // All samples form one chunk that starts right after the mdat header.
    let chunk_offset = (ftyp.len() + 8) as u32;

    let mvhd = full(
        b"mvhd",
        0,
        0,
        &[
            u32s(&[0, 0, fps, n, 0x0001_0000]),
            u16s(&[0x0100, 0]),
            u32s(&[0, 0]),
            u32s(&MATRIX),
            u32s(&[0; 6]),
            u32s(&[2]),
        ]
        .concat(),
    );
    let tkhd = full(
        b"tkhd",
        0,
        0x3,
        &[
            u32s(&[0, 0, 1, 0, n, 0, 0]),
            u16s(&[0, 0, 0, 0]),
            u32s(&MATRIX),
            u32s(&[width << 16, height << 16]),
        ]
        .concat(),
    );
    let mdhd = full(
        b"mdhd",
        0,
        0,
        &[u32s(&[0, 0, fps, n]), u16s(&[0x55c4, 0])].concat(),
    );
    let hdlr = full(
        b"hdlr",
        0,
        0,
        &[
            u32s(&[0]),
            b"vide".to_vec(),
            u32s(&[0, 0, 0]),
            b"VideoHandler\0".to_vec(),
        ]
        .concat(),
    );
    let vmhd = full(b"vmhd", 0, 1, &u16s(&[0, 0, 0, 0]));
    let dinf = boxed(
        b"dinf",
        &full(
            b"dref",
            0,
            0,
            &[u32s(&[1]), full(b"url ", 0, 1, &[])].concat(),
        ),
    );
    let mut compressor = [0u8; 32];
    let name = b"Photo - JPEG";
    compressor[0] = name.len() as u8;
    compressor[1..=name.len()].copy_from_slice(name);
    let jpeg_entry = boxed(
        b"jpeg",
        &[
            vec![0; 6],
            u16s(&[1, 0, 0]),
            u32s(&[0, 0, 0]),
            u16s(&[w16, h16]),
            u32s(&[0x0048_0000, 0x0048_0000, 0]),
            u16s(&[1]),
            compressor.to_vec(),
            u16s(&[0x0018, 0xffff]),
        ]
        .concat(),
    );
    let stsd = full(b"stsd", 0, 0, &[u32s(&[1]), jpeg_entry].concat());
    let stts = full(b"stts", 0, 0, &u32s(&[1, n, 1]));
    let stsc = full(b"stsc", 0, 0, &u32s(&[1, 1, n, 1]));
    let sizes: Vec<u32> = frames.iter().map(|f| f.len() as u32).collect();
    let stsz = full(b"stsz", 0, 0, &[u32s(&[0, n]), u32s(&sizes)].concat());
    let stco = full(b"stco", 0, 0, &u32s(&[1, chunk_offset]));
    let stbl = boxed(b"stbl", &[stsd, stts, stsc, stsz, stco].concat());
    let minf = boxed(b"minf", &[vmhd, dinf, stbl].concat());
    let mdia = boxed(b"mdia", &[mdhd, hdlr, minf].concat());
    let trak = boxed(b"trak", &[tkhd, mdia].concat());
    let moov = boxed(b"moov", &[mvhd, trak].concat());

    let mut out = Vec::with_capacity(ftyp.len() + 8 + payload + moov.len());
    out.extend(&ftyp);
    out.extend(((payload + 8) as u32).to_be_bytes());
    out.extend(b"mdat");
    for f in frames {
        out.extend(f);
    }
    out.extend(&moov);
    Ok(out)
}

/// The body of the first box of type `kind` among `data`'s boxes.
fn child<'a>(data: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut at = 0usize;
    while at.checked_add(8)? <= data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().ok()?) as usize;
        let (body_at, size) = match size {
            // A 64-bit size follows the type.
            1 => (
                at + 16,
                u64::from_be_bytes(data.get(at + 8..at + 16)?.try_into().ok()?) as usize,
            ),
            // The box runs to the end.
            0 => (at + 8, data.len() - at),
            n => (at + 8, n),
        };
        if size < body_at - at || at.checked_add(size)? > data.len() {
            return None;
        }
        if &data[at + 4..at + 8] == kind {
            return data.get(body_at..at + size);
        }
        at += size;
    }
    None
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Sample `index` (0-based) of the first track of an MP4 (for Motion-JPEG, one JPEG), found
/// through the sample tables (stsz, stsc, stco/co64) of ISO/IEC 14496-12 8.7; `None` when
/// the file is malformed or has fewer samples.
pub fn mp4_sample(mp4: &[u8], index: usize) -> Option<&[u8]> {
    let stbl = [b"moov", b"trak", b"mdia", b"minf", b"stbl"]
        .iter()
        .try_fold(mp4, |data, kind| child(data, kind))?;
    let stsz = child(stbl, b"stsz")?;
    let (uniform, count) = (be32(stsz, 4)? as usize, be32(stsz, 8)? as usize);
    if index >= count {
        return None;
    }
    let size_of = |i: usize| -> Option<usize> {
        if uniform != 0 {
            Some(uniform)
        } else {
            Some(be32(stsz, 12 + 4 * i)? as usize)
        }
    };
    let offsets: Vec<u64> = if let Some(stco) = child(stbl, b"stco") {
        (0..be32(stco, 4)? as usize)
            .map(|k| be32(stco, 8 + 4 * k).map(u64::from))
            .collect::<Option<_>>()?
    } else {
        let co64 = child(stbl, b"co64")?;
        (0..be32(co64, 4)? as usize)
            .map(|k| {
                Some(u64::from_be_bytes(
                    co64.get(8 + 8 * k..16 + 8 * k)?.try_into().ok()?,
                ))
            })
            .collect::<Option<_>>()?
    };
    // stsc: runs of chunks with the same samples per chunk.
    let stsc = child(stbl, b"stsc")?;
    let runs: Vec<(usize, usize)> = (0..be32(stsc, 4)? as usize)
        .map(|k| {
            Some((
                be32(stsc, 8 + 12 * k)? as usize,
                be32(stsc, 12 + 12 * k)? as usize,
            ))
        })
        .collect::<Option<_>>()?;
    let mut first_sample = 0usize;
    for (r, &(first_chunk, per_chunk)) in runs.iter().enumerate() {
        let end_chunk = runs.get(r + 1).map_or(offsets.len() + 1, |n| n.0);
        for chunk in first_chunk..end_chunk {
            if per_chunk == 0 || first_sample + per_chunk <= index {
                first_sample += per_chunk;
                continue;
            }
            let mut at = *offsets.get(chunk.checked_sub(1)?)? as usize;
            for i in first_sample..index {
                at += size_of(i)?;
            }
            return mp4.get(at..at + size_of(index)?);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks the top-level boxes and the sample table by hand to find each sample.
    fn samples(mp4: &[u8]) -> Vec<&[u8]> {
        fn find<'a>(data: &'a [u8], path: &[&[u8; 4]]) -> &'a [u8] {
            let mut at = 0;
            while at + 8 <= data.len() {
                let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
                if &data[at + 4..at + 8] == path[0] {
                    let body = &data[at + 8..at + size];
                    if path.len() == 1 {
                        return body;
                    }
                    // stsd has an entry count before its children; the others none.
                    return find(body, &path[1..]);
                }
                at += size;
            }
            panic!("box {:?} not found", std::str::from_utf8(path[0]));
        }
        let stbl = find(mp4, &[b"moov", b"trak", b"mdia", b"minf", b"stbl"]);
        let stsz = find(stbl, &[b"stsz"]);
        let n = u32::from_be_bytes(stsz[8..12].try_into().unwrap()) as usize;
        let stco = find(stbl, &[b"stco"]);
        let mut offset = u32::from_be_bytes(stco[8..12].try_into().unwrap()) as usize;
        (0..n)
            .map(|i| {
                let size =
                    u32::from_be_bytes(stsz[12 + 4 * i..16 + 4 * i].try_into().unwrap()) as usize;
                let s = &mp4[offset..offset + size];
                offset += size;
                s
            })
            .collect()
    }

    #[test]
    fn samples_are_found_where_the_tables_say() {
        let frames = vec![
            vec![0xff, 0xd8, 1, 2, 3, 0xff, 0xd9],
            vec![0xff, 0xd8, 9, 0xff, 0xd9],
        ];
        let mp4 = mjpeg_mp4(&frames, 64, 48, 30).unwrap();
        assert_eq!(&mp4[4..8], b"ftyp");
        let got = samples(&mp4);
        assert_eq!(got, vec![frames[0].as_slice(), frames[1].as_slice()]);
        // The reader finds the same samples, and nothing past them or in a broken file.
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(mp4_sample(&mp4, i), Some(f.as_slice()));
        }
        assert_eq!(mp4_sample(&mp4, 2), None);
        assert_eq!(mp4_sample(&mp4[..mp4.len() - 9], 0), None);
        assert_eq!(mp4_sample(b"not an mp4", 0), None);
        assert!(mjpeg_mp4(&frames, 70_000, 48, 30).is_err());
    }
}
