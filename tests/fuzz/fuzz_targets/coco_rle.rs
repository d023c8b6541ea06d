//! The COCO compressed-counts decoder: any string decodes or errors, and what decodes
//! re-encodes to a string that decodes to the same mask.
#![no_main]
use crossview_schemas::Rle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else { return };
    let (h, w) = (u32::from(*a % 64) + 1, u32::from(*b % 64) + 1);
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(rle) = Rle::from_coco_string(s, h, w) {
        assert_eq!(rle.decode_row_major().len(), (h * w) as usize);
        let again =
            Rle::from_coco_string(&rle.to_coco_string(), h, w).expect("re-encoded mask decodes");
        assert_eq!(again, rle);
    }
});
