//! The browser bundle under `pkg/`. `make site` names it by its content (`strata.<hash>.js`,
//! `strata.<hash>_bg.wasm`, `strata.<hash>.css`) and stores each file precompressed beside it
//! (`.br`, `.gz`), so a browser keeps it for good and a new build is a new name: a repeat visit
//! fetches only the page.

use std::path::{Path, PathBuf};

use tower_http::services::ServeDir;

/// The bundle's name when `make site` did not hash it (a hand-built site).
const BUNDLE: &str = "strata";

/// The bundle's output name in `pkg`: `strata.<hash>` when the site was built with hashed
/// names, else `strata`.
pub fn output_name(pkg: &Path) -> String {
    std::fs::read_dir(pkg)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter_map(|name| Some(name.strip_suffix(".js")?.to_owned()))
        .filter(|stem| hashed(stem))
        // `make site` leaves one bundle; should there be several, the choice is stable.
        .max()
        .unwrap_or_else(|| BUNDLE.to_owned())
}

/// Whether `stem` is `strata.<16 hex digits>`.
fn hashed(stem: &str) -> bool {
    stem.strip_prefix("strata.")
        .is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether the `/pkg/` file at `path` is named by its content, so it never changes.
pub fn immutable(path: &str) -> bool {
    let Some(name) = path.strip_prefix("/pkg/") else {
        return false;
    };
    let stem_len = BUNDLE.len() + 1 + 16;
    name.get(..stem_len).is_some_and(hashed)
        && matches!(name.as_bytes().get(stem_len), Some(b'.' | b'_'))
}

/// Serves `pkg`, sending the precompressed copy a client accepts.
pub fn service(pkg: PathBuf) -> ServeDir {
    ServeDir::new(pkg).precompressed_br().precompressed_gzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_carrying_a_hash_are_immutable() {
        for (path, want) in [
            ("/pkg/strata.0123456789abcdef.js", true),
            ("/pkg/strata.0123456789abcdef_bg.wasm", true),
            ("/pkg/strata.0123456789abcdef.css", true),
            ("/pkg/strata.js", false),
            ("/pkg/strata_bg.wasm", false),
            ("/pkg/strata.0123456789abcdeg.js", false),
            ("/pkg/strata.0123456789abcde.js", false),
            ("/pkg/strata.0123456789abcdefX.js", false),
            ("/favicon.svg", false),
            ("/pkg/", false),
        ] {
            assert_eq!(immutable(path), want, "{path}");
        }
    }

    #[test]
    fn the_output_name_is_the_hashed_bundle_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(output_name(dir.path()), "strata");
        std::fs::write(dir.path().join("strata.js"), "").unwrap();
        std::fs::write(dir.path().join("strata.0123456789abcdef.js.br"), "").unwrap();
        assert_eq!(output_name(dir.path()), "strata");
        std::fs::write(dir.path().join("strata.0123456789abcdef.js"), "").unwrap();
        assert_eq!(output_name(dir.path()), "strata.0123456789abcdef");
        assert_eq!(output_name(&dir.path().join("missing")), "strata");
    }
}
