//! Emits `generated-client/src/generated.rs` with progenitor: the typed SDK.
//!
//! progenitor reads the spec as written (constraints included, so the SDK's
//! types refuse to build invalid requests). It can panic on shapes it does
//! not support; the lint in `crate::spec` refuses those first, and the call
//! is also guarded so a generator panic becomes an error message.

use anyhow::{Result, anyhow};

use crate::spec::Spec;

pub fn generate(spec: &Spec) -> Result<proc_macro2::TokenStream> {
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_derive("PartialEq");
    let api = spec.api.clone();
    let result = std::panic::catch_unwind(move || {
        let mut generator = progenitor::Generator::new(&settings);
        generator.generate_tokens(&api).map_err(|e| e.to_string())
    });
    match result {
        Ok(Ok(tokens)) => Ok(tokens),
        Ok(Err(e)) => Err(anyhow!("progenitor rejected {}: {e}", spec.file)),
        Err(_) => Err(anyhow!(
            "progenitor panicked on {}; the lint should have refused this spec: please report it with the spec",
            spec.file
        )),
    }
}
