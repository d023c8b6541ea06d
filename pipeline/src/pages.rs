//! The process's page policy: its heap in 4 KiB pages rather than transparent huge pages
//! ([`prefer_small_pages`], called first thing by `crossview` and by the loader bench).

/// Set to `1`, keeps transparent huge pages on.
pub const HUGE_PAGES_ENV: &str = "CROSSVIEW_HUGE_PAGES";

/// Turns transparent huge pages off for this process and the processes it starts, unless
/// [`HUGE_PAGES_ENV`] is `1`. The allocator asks for huge pages on its arenas, and on the
/// virtual machines this was measured on, first touching a huge page costs from a fortieth
/// to six times what the same memory costs in 4 KiB pages, as the host happens to back it
/// (344 MB touched: 38-1,558 ms against 204-303 ms): 20 interleaved one-scene rebuilds took
/// 2.08 s on average with huge pages and 1.44 s without, and cold builds were no slower
/// with a sixth less peak memory. Best effort: a kernel without the switch keeps its way.
pub fn prefer_small_pages() {
    if std::env::var_os(HUGE_PAGES_ENV).is_some_and(|v| v == "1") {
        return;
    }
    // The switch is the process's (its memory map's), though rustix files it under threads.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}
