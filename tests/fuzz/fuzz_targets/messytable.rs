//! MessyTable's split JSON (streamed scene by scene).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    crossview_fuzz::fuzz_source("messytable", &["labels/test_tiny.json"], data);
});
