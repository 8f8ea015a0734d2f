//! Git integration through git2: the current commit, dirty state, and the
//! commit graph the TUI draws.
