//! Which profile `run` uses: the one asked for, or for a compiled artifact the built-in
//! profile it was compiled under (its header records the profile's fingerprint), so that
//! `gasket compile x -o x.gasket` then `gasket run x.gasket` works whatever the defaults.

use gasket_metering::Profile;

use crate::cache::{layout, HEADER_LEN};
use crate::cli::input::{self, LoadError};
use crate::cli::{FloatsArg, ProfileArg};

/// The profile options of one `run`.
pub struct ProfileChoice {
    /// `--profile`, if given.
    pub profile: Option<ProfileArg>,
    /// The profile without `--profile` for wasm input (it depends on `--invoke`/`--call`).
    pub default: ProfileArg,
    /// `--floats`, if given.
    pub floats: Option<FloatsArg>,
}

/// The built-in profiles and float policies an artifact may have been compiled under.
const CANDIDATES: [(ProfileArg, FloatsArg); 6] = [
    (ProfileArg::Contract, FloatsArg::Canonicalize),
    (ProfileArg::Permissive, FloatsArg::Canonicalize),
    (ProfileArg::Near, FloatsArg::Canonicalize),
    (ProfileArg::Contract, FloatsArg::Reject),
    (ProfileArg::Permissive, FloatsArg::Reject),
    (ProfileArg::Near, FloatsArg::Reject),
];

/// The flags that select a candidate: `--profile contract` (`--floats reject`).
fn flags(profile: ProfileArg, floats: FloatsArg) -> String {
    let name = profile.profile(None).name;
    match floats {
        FloatsArg::Canonicalize => format!("--profile {name}"),
        FloatsArg::Reject => format!("--profile {name} --floats reject"),
    }
}

impl ProfileChoice {
    /// The profile for wasm or WAT input.
    pub fn for_wasm(&self) -> Profile {
        self.profile.unwrap_or(self.default).profile(self.floats)
    }

    /// Reads `path` (see [`input::load`]) and resolves the profile to load it with.
    pub fn load(&self, path: &std::path::Path) -> Result<(Vec<u8>, Profile), LoadError> {
        let bytes = input::load(path)?;
        let profile = self.resolve(&bytes)?;
        Ok((bytes, profile))
    }

    /// The profile to load `bytes` with: for an artifact, the built-in profile recorded
    /// in its header unless `--profile`/`--floats` say otherwise, in which case the
    /// mismatch is a `wrong_profile` failure that names both and the flag that fixes it.
    fn resolve(&self, bytes: &[u8]) -> Result<Profile, LoadError> {
        if !input::is_artifact(bytes) || bytes.len() < HEADER_LEN {
            // A truncated artifact is reported as such when it is loaded.
            return Ok(self.for_wasm());
        }
        let recorded = &bytes[layout::PROFILE];
        let Some(&(profile, floats)) = CANDIDATES
            .iter()
            .find(|(p, f)| p.profile(Some(*f)).fingerprint() == recorded)
        else {
            return Err(LoadError {
                kind: "wrong_profile",
                message: format!(
                    "this artifact was compiled under a profile that is not built into gasket \
                     (fingerprint {}); `gasket run` runs artifacts of the contract and \
                     permissive profiles: recompile it with `gasket compile --profile …`",
                    hex::encode(recorded)
                ),
            });
        };
        let asked_profile = self.profile.unwrap_or(profile);
        let asked_floats = self.floats.unwrap_or(floats);
        if (asked_profile, asked_floats) == (profile, floats) {
            return Ok(profile.profile(Some(floats)));
        }
        Err(LoadError {
            kind: "wrong_profile",
            message: format!(
                "this artifact was compiled with `{}`, but `{}` was asked for: run it with \
                 `{}` (or without --profile/--floats), or recompile it with `gasket compile \
                 {}`",
                flags(profile, floats),
                flags(asked_profile, asked_floats),
                flags(profile, floats),
                flags(asked_profile, asked_floats),
            ),
        })
    }
}
