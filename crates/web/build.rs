//! The web client (`web/`, built with npm into `web/dist/`) is embedded in
//! the binary. Without a built client, stop here and say what to run.

use std::path::Path;

fn main() {
    // Read at run time: the compiled build script may be shared between checkouts.
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let dist = Path::new(&manifest).join("../../web/dist");
    // Rebuild (and re-embed) whenever the built client changes.
    println!("cargo::rerun-if-changed={}", dist.display());
    if !dist.join("index.html").is_file() {
        println!(
            "cargo::error=the web client is not built (web/dist/index.html is missing); \
             run: cd web && npm ci && npm run build"
        );
    }
}
