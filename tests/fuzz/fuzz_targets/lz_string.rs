//! The LZ-string URI-component decoder of Ego-Exo4D masks: any input decodes or errors.
#![no_main]
use crossview_schemas::lzstring;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = lzstring::decompress_from_encoded_uri(s);
    }
});
