//! Emits `generated-client/src/generated.rs` with progenitor: the typed SDK.
//!
//! progenitor reads the spec as written (constraints included, so the SDK's
//! types refuse to build invalid requests). It can panic on shapes it does
//! not support; the lint in `crate::spec` refuses those first, and the call
//! is also guarded so a generator panic becomes an error message.
//!
//! progenitor types only `application/json` bodies and would hand every
//! `application/problem+json` error to callers as raw bytes. A problem
//! document is JSON (RFC 9457 §3) and progenitor's runtime parses bodies
//! without looking at the media type, so the SDK's copy of the spec lists
//! problem responses as `application/json`: callers get a typed `Problem`.

use anyhow::{Result, anyhow};

use crate::spec::Spec;

pub fn generate(spec: &Spec) -> Result<proc_macro2::TokenStream> {
    let mut settings = progenitor::GenerationSettings::default();
    settings
        .with_interface(progenitor::InterfaceStyle::Builder)
        .with_tag(progenitor::TagStyle::Merged)
        .with_derive("PartialEq");
    let api = json_errors(spec.api.clone());
    let result = std::panic::catch_unwind(move || {
        let mut generator = progenitor::Generator::new(&settings);
        generator.generate_tokens(&api).map_err(|e| e.to_string())
    });
    match result {
        Ok(Ok(tokens)) => mark_deprecated(spec, tokens),
        Ok(Err(e)) => Err(anyhow!("progenitor rejected {}: {e}", spec.file)),
        Err(_) => Err(anyhow!(
            "progenitor panicked on {}; the lint should have refused this spec: please report it with the spec",
            spec.file
        )),
    }
}

/// Marks the SDK method of every deprecated operation `#[deprecated]`,
/// with its dates and successor, so that calling one warns at compile time
/// (progenitor leaves the spec's `deprecated: true` out).
fn mark_deprecated(
    spec: &Spec,
    tokens: proc_macro2::TokenStream,
) -> Result<proc_macro2::TokenStream> {
    let mut notes = std::collections::BTreeMap::new();
    for op in spec.operations() {
        let Some(l) = crate::lifecycle::of(spec, &op) else {
            continue;
        };
        let mut note = format!("{} {} is deprecated", op.method, op.path);
        if let Some(sunset) = &l.sunset {
            note.push_str(&format!("; it stops answering (410 Gone) at {sunset}"));
        }
        if let Some(id) = op.op.extensions.get("x-successor").and_then(|v| v.as_str()) {
            note.push_str(&format!("; use `{}` instead", crate::gen_server::snake(id)));
        }
        notes.insert(crate::gen_server::snake(op.operation_id()), note);
    }
    if notes.is_empty() {
        return Ok(tokens);
    }
    let mut file: syn::File =
        syn::parse2(tokens).map_err(|e| anyhow!("re-reading progenitor's output: {e}"))?;
    let mut marked = std::collections::BTreeSet::new();
    for item in &mut file.items {
        let syn::Item::Impl(imp) = item else { continue };
        let is_client = matches!(&*imp.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if !is_client || imp.trait_.is_some() {
            continue;
        }
        for member in &mut imp.items {
            let syn::ImplItem::Fn(f) = member else {
                continue;
            };
            let name = f.sig.ident.to_string();
            if let Some(note) = notes.get(&name) {
                f.attrs.push(syn::parse_quote!(#[deprecated(note = #note)]));
                marked.insert(name);
            }
        }
    }
    let missed: Vec<&String> = notes.keys().filter(|n| !marked.contains(*n)).collect();
    if !missed.is_empty() {
        return Err(anyhow!(
            "no SDK method found for the deprecated operations {missed:?}: progenitor named them differently"
        ));
    }
    Ok(quote::quote!(#file))
}

/// Renames `application/problem+json` response media to `application/json`
/// (see the module comment). The source spec is not touched.
fn json_errors(mut api: openapiv3::OpenAPI) -> openapiv3::OpenAPI {
    fn fix(r: &mut openapiv3::Response) {
        if let Some(media) = r.content.shift_remove("application/problem+json") {
            r.content.insert("application/json".to_string(), media);
        }
    }
    if let Some(c) = api.components.as_mut() {
        for r in c.responses.values_mut() {
            if let openapiv3::ReferenceOr::Item(r) = r {
                fix(r);
            }
        }
    }
    for (_, item) in api.paths.paths.iter_mut() {
        if let openapiv3::ReferenceOr::Item(item) = item {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for op in ops.into_iter().flatten() {
                for r in op.responses.responses.values_mut() {
                    if let openapiv3::ReferenceOr::Item(r) = r {
                        fix(r);
                    }
                }
            }
        }
    }
    api
}
