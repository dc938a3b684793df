//! How a node asks the C allocator to hand memory back to the system.
//!
//! The store's skip list lives in 256 KiB chunks, and every snapshot's
//! copy-on-write image makes the applier copy the chunks it writes to and
//! later free the old ones. glibc serves blocks of that size with their
//! own mmap at first, but after the first such block is freed it raises
//! its mmap threshold (up to 32 MiB), so later chunks come from its arenas
//! instead; freed there, they stay in the process as fragmented free space.
//! Measured with `scale-bench` at 1M keys, that held the nodes' RSS at about
//! 2.05× the data instead of about 1.7×.

/// Pins glibc's mmap threshold at 128 KiB (its initial value): every block
/// of a skip-list chunk's size is mapped on its own and unmapped when freed.
/// Does nothing on other C libraries.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called once at
    // start-up, before the node's threads allocate.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}
